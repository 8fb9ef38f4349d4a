import { Link } from "react-router-dom";

export function NotFoundPage() {
  return (
    <section className="panel">
      <h1>Page not found</h1>
      <p>
        There is nothing here. <Link to="/">Back to the board</Link>.
      </p>
    </section>
  );
}
