// The admin chunk (./index.ts), fetched once: on first render of an admin page, or earlier when
// an admin shows intent (a pointer over, or focus on, an admin link), so the page opens at once.
import { lazy, type ComponentType } from "react";
import type * as Pages from "./index";

type AdminPages = typeof Pages;

let loading: Promise<AdminPages> | undefined;

export function preloadAdminPages(): Promise<AdminPages> {
  loading ??= import("./index").catch((err: unknown) => {
    // A failed fetch (a dropped link, a new deploy) is tried again on the next use.
    loading = undefined;
    throw err;
  });
  return loading;
}

export function lazyAdminPage<K extends keyof AdminPages>(name: K) {
  return lazy(async () => ({ default: (await preloadAdminPages())[name] as ComponentType }));
}
