// A Vite build plugin: writes a Brotli (`.br`) and a gzip (`.gz`) copy beside each text file of
// the build, so the API can hand browsers the smaller one without compressing on every request
// (@fastify/static's `preCompressed`, plugins/web.ts). The bundle is 515 kB as JavaScript and about
// a quarter of that compressed: the difference is most of a first visit over a phone's tunnel.
import fs from "node:fs/promises";
import path from "node:path";
import { promisify } from "node:util";
import zlib from "node:zlib";
import type { Plugin } from "vite";

const brotli = promisify(zlib.brotliCompress);
const gzip = promisify(zlib.gzip);

/** What browsers receive as text. Source maps are never served, so not compressed either. */
const COMPRESSIBLE = /\.(?:js|mjs|css|html|svg|json|webmanifest|txt)$/;

/** A copy that saves less than this share of the file is not worth a second variant to serve. */
const MIN_SAVING = 0.1;

async function filesUnder(dir: string): Promise<string[]> {
  const entries = await fs.readdir(dir, { withFileTypes: true, recursive: true });
  return entries.filter((e) => e.isFile()).map((e) => path.join(e.parentPath, e.name));
}

/** Writes `file.br` and `file.gz` where each is at least MIN_SAVING smaller than the file. */
async function precompressFile(file: string): Promise<void> {
  const raw = await fs.readFile(file);
  const [br, gz] = await Promise.all([
    // Built once, served many times: the slowest, smallest settings are the right ones here.
    brotli(raw, {
      params: {
        [zlib.constants.BROTLI_PARAM_QUALITY]: zlib.constants.BROTLI_MAX_QUALITY,
        [zlib.constants.BROTLI_PARAM_MODE]: zlib.constants.BROTLI_MODE_TEXT,
        [zlib.constants.BROTLI_PARAM_SIZE_HINT]: raw.length,
      },
    }),
    gzip(raw, { level: zlib.constants.Z_BEST_COMPRESSION }),
  ]);
  for (const [ext, copy] of [["br", br], ["gz", gz]] as const) {
    // A copy from an earlier build of a file that no longer compresses well must not be served.
    if (copy.length > raw.length * (1 - MIN_SAVING)) await fs.rm(`${file}.${ext}`, { force: true });
    else await fs.writeFile(`${file}.${ext}`, copy);
  }
}

export function precompress(): Plugin {
  let outDir = "dist";
  return {
    name: "postern:precompress",
    apply: "build",
    configResolved(config) {
      outDir = path.resolve(config.root, config.build.outDir);
    },
    // After every file is written, public/ included.
    async closeBundle(error?: Error) {
      if (error) return;
      const files = (await filesUnder(outDir)).filter((f) => COMPRESSIBLE.test(f));
      await Promise.all(files.map(precompressFile));
    },
  };
}
