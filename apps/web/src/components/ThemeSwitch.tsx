// Light, dark or the system's choice, as three radio buttons in the header.
import { setTheme, useTheme, type ThemeChoice } from "../lib/theme";

const CHOICES: [ThemeChoice, string, string][] = [
  ["light", "Light", "☀"],
  ["dark", "Dark", "☾"],
  ["system", "System", "◐"],
];

export function ThemeSwitch() {
  const theme = useTheme();
  return (
    <fieldset className="theme-switch">
      <legend className="sr-only">Theme</legend>
      {CHOICES.map(([value, label, icon]) => (
        <label key={value} title={`${label} theme`}>
          <input type="radio" name="theme" value={value} checked={theme === value} onChange={() => setTheme(value)} />
          <span aria-hidden="true">{icon}</span>
          <span className="sr-only">{label}</span>
        </label>
      ))}
    </fieldset>
  );
}
