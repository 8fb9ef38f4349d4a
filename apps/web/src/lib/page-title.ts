// The tab's title: "<page> · Postern", prefixed with what needs the user's attention (a
// waitlist offer) so a background tab shows it.
import { useEffect } from "react";

let page = "";
let attention = "";

function render(): void {
  const base = page ? `${page} · Postern` : "Postern";
  document.title = attention ? `${attention} — ${base}` : base;
}

export function usePageTitle(title: string): void {
  useEffect(() => {
    page = title;
    render();
  }, [title]);
}

/** Something the user should act on, shown first in the tab's title; empty clears it. */
export function useTitleAttention(text: string): void {
  useEffect(() => {
    attention = text;
    render();
    return () => {
      attention = "";
      render();
    };
  }, [text]);
}
