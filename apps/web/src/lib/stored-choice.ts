// A small preference remembered in this browser (the board's layout).
import { useState } from "react";

export function useStoredChoice<T extends string>(key: string, options: readonly T[], fallback: T): [T, (v: T) => void] {
  const [value, setValue] = useState<T>(() => {
    try {
      const stored = localStorage.getItem(key);
      return options.find((o) => o === stored) ?? fallback;
    } catch {
      return fallback;
    }
  });
  const set = (v: T) => {
    setValue(v);
    try {
      localStorage.setItem(key, v);
    } catch {
      // Without storage the choice lasts until the page is left.
    }
  };
  return [value, set];
}
