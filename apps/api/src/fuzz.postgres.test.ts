// Property-based fuzzing of every route from its contract, as every kind of caller, on postgres
// (test/fuzz/; one file per database so the two run side by side).
import { vi } from "vitest";
import { fuzzSuite } from "../test/fuzz/fuzz-suite";

vi.mock("argon2", () => import("../test/fuzz/cheap-argon2"));

fuzzSuite("postgres");
