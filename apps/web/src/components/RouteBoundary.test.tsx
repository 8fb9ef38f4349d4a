// @vitest-environment happy-dom
// The boundary around a routed page, in a DOM and a real router (happy-dom: no browser page can
// make a render error on purpose). The shell here is a stand-in for Layout: navigation, then the page.
import { afterEach, describe, expect, it, vi } from "vitest";
import { cleanup, fireEvent, render, screen } from "@testing-library/react";
import { Link, MemoryRouter, Outlet, Route, Routes, useSearchParams } from "react-router-dom";
import { RouteBoundary } from "./RouteBoundary";

afterEach(() => {
  cleanup();
  vi.restoreAllMocks();
});

function Broken(): never {
  throw new Error("a bug in the board");
}

function Filtered() {
  const [params, setParams] = useSearchParams();
  return (
    <>
      <p>Sessions for {params.get("who") ?? "everyone"}</p>
      <button type="button" onClick={() => setParams({ who: "alice" })}>
        Only alice
      </button>
    </>
  );
}

function Shell() {
  return (
    <>
      <nav aria-label="Main">
        <Link to="/">Board</Link>
        <Link to="/sessions">My sessions</Link>
      </nav>
      <main>
        <RouteBoundary>
          <Outlet />
        </RouteBoundary>
      </main>
    </>
  );
}

function app(at: string) {
  vi.spyOn(console, "error").mockImplementation(() => {});
  render(
    <MemoryRouter initialEntries={[at]}>
      <Routes>
        <Route element={<Shell />}>
          <Route index element={<Broken />} />
          <Route path="sessions" element={<Filtered />} />
        </Route>
      </Routes>
    </MemoryRouter>,
  );
}

describe("a routed page that fails to render", () => {
  it("shows the error in place of the page and keeps the navigation", () => {
    app("/");
    expect(screen.getByRole("alert").textContent).toContain("This page hit an error: a bug in the board");
    expect(screen.getByRole("navigation", { name: "Main" })).toBeTruthy();
  });

  it("is cleared by moving to another page, and shown again on coming back", () => {
    app("/");
    fireEvent.click(screen.getByRole("link", { name: "My sessions" }));
    expect(screen.queryByRole("alert")).toBeNull();
    expect(screen.getByText("Sessions for everyone")).toBeTruthy();

    fireEvent.click(screen.getByRole("link", { name: "Board" }));
    expect(screen.getByRole("alert").textContent).toContain("a bug in the board");
  });

  it("does not remount a page that works when only its query changes", () => {
    app("/sessions");
    const page = screen.getByText("Sessions for everyone");
    fireEvent.click(screen.getByRole("button", { name: "Only alice" }));
    expect(page.textContent).toBe("Sessions for alice");
  });
});
