import { Link } from "react-router-dom";
import { usePageTitle } from "../lib/page-title";

export function NotFoundPage() {
  usePageTitle("Not found");
  return (
    <section className="panel">
      <h1>Page not found</h1>
      <p>
        There is nothing here. <Link to="/">Back to the board</Link>.
      </p>
    </section>
  );
}
