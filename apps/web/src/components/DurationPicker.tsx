import { useId } from "react";
import { formatDuration } from "../lib/format";

/** A select of lengths; `notes` adds a word to some choices ("default", "longest allowed"). */
export function DurationPicker(props: {
  value: number;
  onChange: (seconds: number) => void;
  choices: number[];
  notes?: Map<number, string>;
  label: string;
}) {
  const id = useId();
  return (
    <span className="duration-picker">
      <label htmlFor={id} className="sr-only">
        {props.label}
      </label>
      <select id={id} value={props.value} onChange={(e) => props.onChange(Number(e.target.value))}>
        {props.choices.map((s) => (
          <option key={s} value={s}>
            {formatDuration(s)}
            {props.notes?.get(s) ? ` (${props.notes.get(s)})` : ""}
          </option>
        ))}
      </select>
    </span>
  );
}
