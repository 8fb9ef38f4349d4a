import { describe, expect, it } from "vitest";
import { providerOf, redactUrl } from "./index";

describe("providerOf", () => {
  it("tells SQLite from PostgreSQL by the URL", () => {
    expect(providerOf("file:./data/postern.db")).toBe("sqlite");
    expect(providerOf("postgres://u@h/db")).toBe("postgres");
    expect(providerOf("postgresql://u@h/db")).toBe("postgres");
  });
  it("names what it expected and hides the password", () => {
    expect(() => providerOf("mysql://u:secret@h/db")).toThrow(/file: .* postgres:\/\/.*mysql:\/\/u:\*\*\*@h\/db/);
    expect(redactUrl("postgres://u:pw@h:5432/db")).toBe("postgres://u:***@h:5432/db");
  });
});
