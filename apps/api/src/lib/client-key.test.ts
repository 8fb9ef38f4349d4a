import { describe, expect, it } from "vitest";
import { limitKeyOf } from "./client-key";

describe("limitKeyOf", () => {
  it("keeps an IPv4 address, and turns an IPv4-mapped IPv6 address into it", () => {
    expect(limitKeyOf("203.0.113.7")).toBe("203.0.113.7");
    expect(limitKeyOf("::ffff:203.0.113.7")).toBe("203.0.113.7");
    expect(limitKeyOf("::FFFF:cb00:7107")).toBe("203.0.113.7");
    expect(limitKeyOf("0:0:0:0:0:ffff:203.0.113.7")).toBe("203.0.113.7");
  });

  it("counts an IPv6 address by its /64, whichever way the address is written", () => {
    const key = "2001:db8:1:2::/64";
    for (const ip of [
      "2001:db8:1:2::1",
      "2001:db8:1:2:ffff:ffff:ffff:ffff",
      "2001:0DB8:0001:0002:0000:0000:0000:0001",
      "2001:db8:1:2:0:0:0:9",
      "2001:db8:1:2:a:b:c:d%eth0",
      "2001:db8:1:2::203.0.113.7",
    ]) {
      expect(limitKeyOf(ip), ip).toBe(key);
    }
    expect(limitKeyOf("2001:db8:1:3::1")).toBe("2001:db8:1:3::/64");
    expect(limitKeyOf("2001:db8::1")).toBe("2001:db8::/64");
    expect(limitKeyOf("2001:db8:0:0:1::1")).toBe("2001:db8::/64");
    expect(limitKeyOf("fe80::1%25")).toBe("fe80::/64");
    expect(limitKeyOf("::1")).toBe("::/64");
    expect(limitKeyOf("1:2:3:4:5:6:7:8")).toBe("1:2:3:4::/64");
  });

  it("leaves what is no IP address as it is", () => {
    expect(limitKeyOf("")).toBe("");
    expect(limitKeyOf("not an address")).toBe("not an address");
    expect(limitKeyOf("2001:db8::1::2")).toBe("2001:db8::1::2");
  });
});
