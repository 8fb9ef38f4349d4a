// @vitest-environment happy-dom
// The boundary in a DOM (happy-dom: no browser page can make a render error on purpose).
import { afterEach, describe, expect, it, vi } from "vitest";
import { cleanup, fireEvent, render, screen } from "@testing-library/react";
import { PageBoundary } from "./PageBoundary";

afterEach(cleanup);

let broken = true;
function Page({ fail }: { fail: () => unknown }) {
  if (broken) throw fail();
  return <p>The page</p>;
}

function show(fail: () => unknown) {
  // React and the boundary both write the caught error to the console; keep the run's output clean.
  const logged = vi.spyOn(console, "error").mockImplementation(() => {});
  broken = true;
  render(
    <PageBoundary what="admin pages">
      <Page fail={fail} />
    </PageBoundary>,
  );
  return logged;
}

describe("a page that throws while rendering", () => {
  it("says the page hit an error, names it without its stack, logs it, and can try again", () => {
    const bug = new TypeError("Cannot read properties of undefined (reading 'name')");
    const logged = show(() => bug);
    const alert = screen.getByRole("alert");
    expect(alert.textContent).toContain("This page hit an error");
    expect(alert.textContent).toContain("Cannot read properties of undefined (reading 'name')");
    expect(alert.textContent).not.toContain("could not be loaded");
    expect(alert.textContent).not.toContain(".tsx");
    expect(logged.mock.calls.some((args) => args.includes(bug))).toBe(true);

    broken = false;
    fireEvent.click(screen.getByRole("button", { name: "Try again" }));
    expect(screen.getByText("The page")).toBeTruthy();
    expect(screen.queryByRole("alert")).toBeNull();
  });

  it("offers a reload as well", () => {
    show(() => new Error("boom"));
    expect(screen.getByRole("button", { name: "Reload" })).toBeTruthy();
  });

  it("says something when what was thrown is not an Error", () => {
    show(() => "a string");
    expect(screen.getByRole("alert").textContent).toContain("This page hit an error");
  });
});

describe("a page whose code could not be fetched", () => {
  const chunkErrors: [string, () => unknown][] = [
    ["Chromium", () => new TypeError("Failed to fetch dynamically imported module: https://postern.example/assets/admin-x1.js")],
    ["Safari", () => new TypeError("Importing a module script failed.")],
    ["Firefox", () => new TypeError("error loading dynamically imported module: https://postern.example/assets/admin-x1.js")],
    ["webpack-style", () => Object.assign(new Error("Loading chunk 7 failed."), { name: "ChunkLoadError" })],
    ["Vite's preload", () => new Error("Unable to preload CSS for /assets/admin-x1.css")],
  ];

  it.each(chunkErrors)("%s: says the download failed and offers a reload", (_, fail) => {
    show(fail);
    const alert = screen.getByRole("alert");
    expect(alert.textContent).toContain("The admin pages could not be loaded");
    expect(screen.getByRole("button", { name: "Reload" })).toBeTruthy();
    expect(screen.queryByRole("button", { name: "Try again" })).toBeNull();
  });
});
