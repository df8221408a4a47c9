import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { createKeyObfuscator, decryptValue, encryptValue } from "../src/client/crypto.js";

const filled = (byte: number) => new Uint8Array(32).fill(byte);
const bytes = (s: string) => new TextEncoder().encode(s);

describe("key obfuscation compatible with the Rust client", () => {
  it("matches the Rust client's obfuscation test vector", () => {
    expect(createKeyObfuscator(filled(0x2a)).obfuscate("a_semi_secret_key")).toBe(
      "cMoet5WTvl0nYds+VW7JPCtXUq24DtMG2dR9apAi/T5jy8eNIEyDrUAJBS4geeUuX+XGXPqlizIByOip2g",
    );
  });

  it("reverses the Rust client's stored key test vector", () => {
    expect(
      createKeyObfuscator(filled(0xab)).deobfuscate(
        "nxrixRQPGawY+a9JFLThii0RgeADtEdSjh2YDgpZhBKOuw6GKr5UAIIwsQCathJlZsmuSku+RGB1/JuxFUMQGoAwa+M8tg",
      ),
    ).toBe("my_storage_key_v031_compat");
  });

  it("is deterministic and reversible for any key, unicode included", () => {
    const obfuscator = createKeyObfuscator(randomBytes(32));
    for (const key of ["", "a", "channel_monitors#abc", "ключ/🔑", "x".repeat(400)]) {
      const once = obfuscator.obfuscate(key);
      expect(obfuscator.obfuscate(key)).toBe(once);
      expect(once).not.toContain("=");
      expect(obfuscator.deobfuscate(once)).toBe(key);
    }
  });

  it("refuses keys obfuscated under another master key, or tampered with", () => {
    const key = createKeyObfuscator(filled(1)).obfuscate("secret");
    expect(() => createKeyObfuscator(filled(2)).deobfuscate(key)).toThrow();
    const flipped = `${key.slice(0, 3)}${key[3] === "A" ? "B" : "A"}${key.slice(4)}`;
    expect(() => createKeyObfuscator(filled(1)).deobfuscate(flipped)).toThrow();
    expect(() => createKeyObfuscator(filled(1)).deobfuscate("c2hvcnQ")).toThrow(/too short/);
  });
});

describe("value encryption compatible with the Rust client", () => {
  const dataKey = randomBytes(32);

  it("round-trips a value and its version with the stored key as associated data", () => {
    const sealed = encryptValue(bytes("channel state"), 7n, dataKey, bytes("stored-key"));
    expect(decryptValue(sealed, dataKey, bytes("stored-key"))).toEqual({
      value: bytes("channel state"),
      version: 7n,
    });
  });

  it("uses a fresh nonce each time", () => {
    const a = encryptValue(bytes("same"), 1n, dataKey, bytes("k"));
    const b = encryptValue(bytes("same"), 1n, dataKey, bytes("k"));
    expect(Buffer.from(a).equals(Buffer.from(b))).toBe(false);
  });

  it("fails on a wrong key, wrong associated data or a tampered value", () => {
    const sealed = encryptValue(bytes("v"), 1n, dataKey, bytes("k"));
    expect(() => decryptValue(sealed, randomBytes(32), bytes("k"))).toThrow();
    expect(() => decryptValue(sealed, dataKey, bytes("other-key"))).toThrow();
    const tampered = Uint8Array.from(sealed);
    tampered[4] = (tampered[4] ?? 0) ^ 1;
    expect(() => decryptValue(tampered, dataKey, bytes("k"))).toThrow();
  });
});
