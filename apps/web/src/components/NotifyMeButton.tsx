// Asks for the browser's permission to notify, at the moment it is useful: while waiting in line.
import { useState } from "react";

export function NotifyMeButton() {
  const supported = typeof Notification !== "undefined";
  const [permission, setPermission] = useState(() => (supported ? Notification.permission : "denied"));
  if (!supported || permission !== "default") return null;
  return (
    <button type="button" className="link-button small" onClick={() => void Notification.requestPermission().then(setPermission)}>
      Notify me when it’s my turn
    </button>
  );
}
