import { useId } from "react";
import { durationChoices, formatDuration } from "../lib/format";

export function DurationPicker(props: {
  value: number;
  onChange: (seconds: number) => void;
  defaultSeconds: number;
  maxSeconds: number;
  label?: string;
}) {
  const id = useId();
  return (
    <span className="duration-picker">
      <label htmlFor={id} className="sr-only">
        {props.label ?? "Duration"}
      </label>
      <select id={id} value={props.value} onChange={(e) => props.onChange(Number(e.target.value))}>
        {durationChoices(props.defaultSeconds, props.maxSeconds).map((s) => (
          <option key={s} value={s}>
            {formatDuration(s)}
            {s === props.defaultSeconds ? " (default)" : ""}
          </option>
        ))}
      </select>
    </span>
  );
}
