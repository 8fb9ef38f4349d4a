// Booking a service for a later window: it starts by itself at the chosen time.
import { useId, useState, type FormEvent } from "react";
import type { TService } from "@postern/contracts";
import { useStartSession } from "../api/sessions";

/** `datetime-local` wants local time without an offset. */
function localInputValue(d: Date): string {
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

export function ScheduleForm(props: { service: TService; durationSeconds: number; onError: (err: unknown) => void }) {
  const start = useStartSession();
  const id = useId();
  const [when, setWhen] = useState(() => localInputValue(new Date(Date.now() + 3600_000)));
  const [done, setDone] = useState(false);

  function submit(e: FormEvent) {
    e.preventDefault();
    props.onError(null);
    setDone(false);
    start.mutate(
      { serviceId: props.service.id, body: { durationSeconds: props.durationSeconds, startsAt: new Date(when).toISOString() } },
      { onSuccess: () => setDone(true), onError: props.onError },
    );
  }

  return (
    <details className="schedule">
      <summary>Book for later</summary>
      <form className="inline-form" onSubmit={submit}>
        <label htmlFor={id} className="sr-only">
          Start {props.service.name} at
        </label>
        <input id={id} type="datetime-local" required value={when} onChange={(e) => setWhen(e.target.value)} />
        <button type="submit" disabled={start.isPending}>
          Book
        </button>
        {done && <span role="status" className="small">Booked.</span>}
      </form>
    </details>
  );
}
