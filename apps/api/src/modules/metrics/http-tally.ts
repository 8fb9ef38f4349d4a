// Answered requests by method, route pattern and status, and how long they took: counted in plain
// maps on the request path and turned into Prometheus samples only when scraped. prom-client's own
// counter and histogram hash their label object on every call, which cost a measurable share of a
// cached read (see bench/api); a scrape every few seconds can afford the work instead.
import type { Histogram, Registry } from "prom-client";

interface RouteTally {
  byStatus: Map<number, number>;
  /** Observations per bucket (not cumulative); the last slot is above the largest bound. */
  buckets: Float64Array;
  sum: number;
  count: number;
}

interface Sample {
  value: number;
  labels: Record<string, string | number>;
  /** For a histogram's `_bucket`, `_sum` and `_count` lines. */
  metricName?: string;
}

/** A metric family in the shape prom-client's registry reads (`name`, `help`, `type`, `get`). */
interface Family {
  name: string;
  help: string;
  type: "counter" | "histogram";
  aggregator: "sum";
  get(): Promise<{ name: string; help: string; type: string; aggregator: "sum"; values: Sample[] }>;
  reset(): void;
}

export class HttpTally {
  /** route → method → tally: two lookups of strings the router already holds, no key to build. */
  private readonly routes = new Map<string, Map<string, RouteTally>>();

  constructor(private readonly bounds: readonly number[]) {}

  record(method: string, route: string, status: number, seconds: number): void {
    let methods = this.routes.get(route);
    if (!methods) this.routes.set(route, (methods = new Map()));
    let tally = methods.get(method);
    if (!tally) methods.set(method, (tally = { byStatus: new Map(), buckets: new Float64Array(this.bounds.length + 1), sum: 0, count: 0 }));
    tally.byStatus.set(status, (tally.byStatus.get(status) ?? 0) + 1);
    let b = 0;
    while (b < this.bounds.length && seconds > this.bounds[b]!) b++;
    tally.buckets[b]! += 1;
    tally.sum += seconds;
    tally.count += 1;
  }

  /** Adds `<name>_total` (by method, route, status) and the duration histogram (by method, route) to `registry`. */
  register(registry: Registry, names: { requests: string; duration: string }): void {
    const tallies = () => [...this.routes].flatMap(([route, methods]) => [...methods].map(([method, tally]) => ({ method, route, tally })));
    const family = (name: string, help: string, type: Family["type"], samples: () => Sample[]): Family => {
      const f: Family = {
        name,
        help,
        type,
        aggregator: "sum",
        // The family's own name at scrape time: the registry renames counters for OpenMetrics, as
        // it does prom-client's own.
        get: async () => ({ name: f.name, help, type, aggregator: "sum", values: samples() }),
        reset: () => this.routes.clear(),
      };
      return f;
    };
    const requests = family(names.requests, "HTTP requests answered, by method, route pattern and status code", "counter", () =>
      tallies().flatMap(({ method, route, tally }) => [...tally.byStatus].map(([status, value]) => ({ value, labels: { method, route, status: String(status) } }))),
    );
    const duration = family(names.duration, "Time to answer HTTP requests, by method and route pattern", "histogram", () =>
      tallies().flatMap(({ method, route, tally }) => this.histogramSamples(names.duration, { method, route }, tally)),
    );
    // prom-client's registry reads any object of this shape; its types name only its own classes.
    registry.registerMetric(requests as unknown as Histogram);
    registry.registerMetric(duration as unknown as Histogram);
  }

  private histogramSamples(name: string, labels: { method: string; route: string }, tally: RouteTally): Sample[] {
    const samples: Sample[] = [];
    let cumulative = 0;
    this.bounds.forEach((le, i) => {
      cumulative += tally.buckets[i]!;
      samples.push({ metricName: `${name}_bucket`, value: cumulative, labels: { le, ...labels } });
    });
    samples.push(
      { metricName: `${name}_bucket`, value: tally.count, labels: { le: "+Inf", ...labels } },
      { metricName: `${name}_sum`, value: tally.sum, labels },
      { metricName: `${name}_count`, value: tally.count, labels },
    );
    return samples;
  }
}
