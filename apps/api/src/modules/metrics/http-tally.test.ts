// The tally must scrape exactly as prom-client's own counter and histogram would for the same
// requests: dashboards and alerts written against the old series keep working.
import { Counter, Histogram, Registry } from "prom-client";
import { describe, expect, it } from "vitest";
import { HttpTally } from "./http-tally";

const BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];
const names = { requests: "t_http_requests_total", duration: "t_http_request_duration_seconds" };

describe("HttpTally", () => {
  it("scrapes as prom-client's counter and histogram do, bucket edges included", async () => {
    const theirs = new Registry();
    const counter = new Counter({ name: names.requests, help: "HTTP requests answered, by method, route pattern and status code", labelNames: ["method", "route", "status"], registers: [theirs] });
    const histogram = new Histogram({ name: names.duration, help: "Time to answer HTTP requests, by method and route pattern", labelNames: ["method", "route"], buckets: BUCKETS, registers: [theirs] });
    const ours = new Registry();
    const tally = new HttpTally(BUCKETS);
    tally.register(ours, names);

    const requests: [string, string, number, number][] = [
      ["GET", "/api/services", 200, 0.0004],
      ["GET", "/api/services", 200, 0.005], // exactly on a bound: counted in that bucket
      ["GET", "/api/services", 304, 0.02],
      ["POST", "/api/services/:id/sessions", 201, 0.3],
      ["POST", "/api/services/:id/sessions", 409, 7], // above every bound: +Inf only
      ["GET", "unmatched", 404, 0.001],
    ];
    for (const [method, route, status, seconds] of requests) {
      counter.inc({ method, route, status: String(status) });
      histogram.observe({ method, route }, seconds);
      tally.record(method, route, status, seconds);
    }
    expect(await ours.metrics()).toBe(await theirs.metrics());
  });

  it("starts over when the registry is reset", async () => {
    const registry = new Registry();
    const tally = new HttpTally(BUCKETS);
    tally.register(registry, names);
    tally.record("GET", "/healthz", 200, 0.001);
    registry.resetMetrics();
    expect(await registry.metrics()).not.toContain("/healthz");
  });
});
