// Keeps one of Node's own process.nextTick records alive for the life of the process.
//
// Why: Node builds each nextTick record with an object literal whose keys start with two symbols.
// V8 caches how to build it in an inline cache that holds the record's hidden classes weakly and
// that can only go from one class to "any class" (it has no polymorphic state). A full garbage
// collection at a moment when no record is alive frees those classes; the next record gets new
// ones, the cache goes generic for good, and from then on every nextTick (five or so per HTTP
// request, inside Node's streams) takes V8's slow runtime path. Postern met it at its first
// connection (start-up's collections ran while no record was alive); any long-running Node
// server meets it sooner or later. With one record kept, the classes stay alive and the cache
// stays fast.
//
// Measured (2 cores, Node 20, 32 connections, GET /api/me with a login cookie, one server per
// run): 31,000 -> 40,000 req/s. See docs/performance.md.
import { executionAsyncResource } from "node:async_hooks";

/** @type {object | undefined} */
let kept;

/** Resolves once a nextTick record is held; call it before anything else runs. */
export function keepTickShape() {
  return new Promise((resolve) => {
    process.nextTick(() => {
      // Inside a nextTick callback the execution resource is the record itself.
      kept = executionAsyncResource();
      resolve(kept);
    });
  });
}

/** The record held, for the test that checks the classes survive a collection. */
export function keptTickRecord() {
  return kept;
}
