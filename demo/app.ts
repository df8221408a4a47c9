// The browser wallet demo: what a web wallet does with `vss-server-ts/client`.
// Bundled by demo/build.ts; runs in the browser only.
import { secp256k1 } from "@noble/curves/secp256k1.js";
import { bytesToHex, hexToBytes, randomBytes, utf8ToBytes } from "@noble/hashes/utils.js";
import {
  createKeyObfuscator,
  createVssClient,
  decryptValue,
  deriveLdkNodeVssKeys,
  encryptValue,
  type KeyObfuscator,
  signatureAuth,
  type VssClient,
  VssClientError,
} from "vss-server-ts/client";

const SEED_ITEM = "vss-demo-seed";

interface Wallet {
  readonly identity: string;
  readonly dataKey: Uint8Array;
  readonly obfuscator: KeyObfuscator;
  readonly client: VssClient;
}

const $ = <T extends HTMLElement>(id: string): T => {
  const element = document.getElementById(id);
  if (element === null) throw new Error(`#${id} is missing from the page`);
  return element as T;
};
const serverInput = $<HTMLInputElement>("server");
const storeInput = $<HTMLInputElement>("store");
const keyInput = $<HTMLInputElement>("key");
const valueInput = $<HTMLTextAreaElement>("value");
const walletText = $("wallet");
const status = $("status");
const buttons = {
  generate: $<HTMLButtonElement>("generate"),
  forget: $<HTMLButtonElement>("forget"),
  save: $<HTMLButtonElement>("save"),
  refresh: $<HTMLButtonElement>("refresh"),
};

const params = new URLSearchParams(location.search);
serverInput.value = params.get("server") ?? "http://127.0.0.1:8080";
storeInput.value = params.get("store") ?? "browser-demo";

/** The version of each key this tab last saw: what its next save is conditional on. */
const seen = new Map<string, bigint>();
let wallet: Wallet | undefined;

function openWallet(seed: Uint8Array): Wallet {
  // The same keys LDK Node derives from its seed: what this page stores, the
  // `vss` CLI or an LDK Node with this seed can list and read.
  const keys = deriveLdkNodeVssKeys(seed);
  return {
    identity: bytesToHex(secp256k1.getPublicKey(keys.signingKey, true)),
    dataKey: keys.dataKey,
    obfuscator: createKeyObfuscator(keys.obfuscationKey),
    client: createVssClient({
      baseUrl: serverInput.value.trim(),
      storeId: storeInput.value,
      protocol: "grpc-web",
      auth: signatureAuth(keys.signingKey),
      // A person is waiting: give up on an unreachable server within seconds.
      retry: { maxAttempts: 3, maxElapsedMs: 4_000 },
    }),
  };
}

function loadWallet(): void {
  const stored = localStorage.getItem(SEED_ITEM);
  wallet = stored === null ? undefined : openWallet(hexToBytes(stored));
  walletText.textContent =
    wallet === undefined
      ? "No key yet."
      : `Wallet ${wallet.identity.slice(0, 16)}… (the seed stays in this browser's local storage)`;
  buttons.generate.disabled = wallet !== undefined;
  for (const b of [buttons.forget, buttons.save, buttons.refresh])
    b.disabled = wallet === undefined;
}

function show(kind: "ok" | "error" | "conflict", message: string): void {
  status.className = kind;
  status.textContent = message;
}

function explain(error: unknown): void {
  if (!(error instanceof VssClientError)) {
    show("error", `Error: ${error instanceof Error ? error.message : String(error)}`);
    return;
  }
  if (error.kind === "network" || error.kind === "unavailable") {
    show(
      "error",
      `Cannot reach the VSS server at ${serverInput.value} (is it running, and does its VSS_CORS_ORIGINS include ${location.origin}?)`,
    );
  } else if (error.kind === "auth") {
    show("error", `The server refused this wallet's key: ${error.message}`);
  } else {
    show("error", `Error (${error.kind}): ${error.message}`);
  }
}

let pending = 0;

/** Runs one user action with its button disabled, reporting any failure. */
function run(button: HTMLButtonElement, task: () => Promise<void>): void {
  button.disabled = true;
  pending++;
  // Marks the page busy while calls are in flight (tests wait on it).
  document.body.dataset["busy"] = "true";
  task()
    .catch(explain)
    .finally(() => {
      button.disabled = false;
      if (--pending === 0) delete document.body.dataset["busy"];
    });
}

function action(button: HTMLButtonElement, task: (w: Wallet) => Promise<void>): void {
  button.addEventListener("click", () => {
    const w = wallet;
    if (w !== undefined) run(button, () => task(w));
  });
}

/**
 * Lists every key of the store (all pages) into the table; returns how many are
 * this wallet's. Pages by hand rather than with listAll: the first page also
 * carries the global version.
 */
async function refresh(w: Wallet): Promise<number> {
  const rows: HTMLTableRowElement[] = [];
  let globalVersion: bigint | undefined;
  let pageToken: string | undefined;
  do {
    const page = await w.client.list(pageToken === undefined ? {} : { pageToken });
    globalVersion ??= page.globalVersion;
    for (const { key: stored, version } of page.keys) {
      let key: string;
      try {
        key = w.obfuscator.deobfuscate(stored);
      } catch {
        continue; // written with another wallet's keys
      }
      seen.set(key, version);
      const row = document.createElement("tr");
      row.dataset["key"] = key;
      const read = document.createElement("button");
      read.type = "button";
      read.textContent = "Read";
      read.addEventListener("click", () => run(read, () => readKey(w, key)));
      const cells = [key, version.toString(), stored].map((text, i) => {
        const cell = document.createElement("td");
        cell.textContent = text;
        cell.className = ["key", "version", "stored"][i] ?? "";
        return cell;
      });
      const last = document.createElement("td");
      last.append(read);
      row.append(...cells, last);
      rows.push(row);
    }
    pageToken = page.nextPageToken;
  } while (pageToken !== undefined);
  rows.sort((a, b) => (a.dataset["key"] ?? "").localeCompare(b.dataset["key"] ?? ""));
  $("keys").replaceChildren(...rows);
  $("global-version").textContent = (globalVersion ?? 0n).toString();
  return rows.length;
}

async function readKey(w: Wallet, key: string): Promise<void> {
  const stored = w.obfuscator.obfuscate(key);
  const item = await w.client.get(stored);
  const text = new TextDecoder().decode(
    decryptValue(item.value, w.dataKey, utf8ToBytes(stored)).value,
  );
  seen.set(key, item.version);
  $("read-key").textContent = key;
  $("read-version").textContent = item.version.toString();
  $("read-value").textContent = text;
  keyInput.value = key;
  valueInput.value = text;
  show("ok", `Read “${key}” at version ${item.version}.`);
}

async function save(w: Wallet): Promise<void> {
  const key = keyInput.value;
  if (key === "") {
    show("error", "Enter a key to save.");
    return;
  }
  const stored = w.obfuscator.obfuscate(key);
  const version = seen.get(key) ?? 0n;
  // The associated data binds the ciphertext to its key, as LDK Node does.
  const value = encryptValue(
    utf8ToBytes(valueInput.value),
    version,
    w.dataKey,
    utf8ToBytes(stored),
  );
  try {
    await w.client.put([{ key: stored, version, value }]);
  } catch (error) {
    if (error instanceof VssClientError && error.kind === "conflict") {
      show(
        "conflict",
        version === 0n
          ? `Conflict: “${key}” already exists (written from another tab or device). Refresh or read it, then save again.`
          : `Conflict: “${key}” changed in another tab or device since this tab saw version ${version}. Read it again, then save.`,
      );
      return;
    }
    throw error;
  }
  seen.set(key, version + 1n);
  show("ok", `Saved “${key}” at version ${version + 1n}.`);
  await refresh(w);
}

buttons.generate.addEventListener("click", () => {
  // A 64-byte wallet seed, like LDK Node's; everything else derives from it.
  localStorage.setItem(SEED_ITEM, bytesToHex(randomBytes(64)));
  loadWallet();
  show("ok", "Generated a new wallet key.");
});
buttons.forget.addEventListener("click", () => {
  localStorage.removeItem(SEED_ITEM);
  seen.clear();
  $("keys").replaceChildren();
  loadWallet();
  show("ok", "Forgot the wallet key.");
});
action(buttons.save, save);
action(buttons.refresh, async (w) => {
  const count = await refresh(w);
  show("ok", `Listed ${count} ${count === 1 ? "key" : "keys"}.`);
});
for (const input of [serverInput, storeInput]) {
  input.addEventListener("change", () => {
    seen.clear();
    loadWallet();
  });
}
// Another tab generating or forgetting the key changes this one's wallet too.
window.addEventListener("storage", (event) => {
  if (event.key === SEED_ITEM) loadWallet();
});

loadWallet();
document.body.dataset["ready"] = "true";
