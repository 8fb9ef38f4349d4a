// Debian's nginx for tests, running the shipped docker/nginx.conf with only its environment
// changed: upstream addresses (compose service names → loopback ports), listen port, paths.
import fs from "node:fs";

export const nginxBin = ["/usr/sbin/nginx", "/usr/bin/nginx"].find((p) => fs.existsSync(p));

/** The shipped nginx.conf with only its environment changed: upstream addresses, listen port, paths. */
export function renderNginxConf(shipped: string, options: { prefix: string; listen: number; upstreams: number[] }): string {
  const upstream = /^\s*# postern-upstream-begin.*\n([\s\S]*?)^\s*# postern-upstream-end.*$/m;
  if (!upstream.test(shipped)) throw new Error("docker/nginx.conf lost its postern-upstream markers");
  const replacements: [RegExp, string][] = [
    [/^user .*;$/m, ""],
    [/^pid .*;$/m, `pid ${options.prefix}/nginx.pid;`],
    [/^error_log \S+/m, `error_log ${options.prefix}/logs/error.log`],
    [/^(\s*)access_log \S+;$/m, `$1access_log ${options.prefix}/logs/access.log;`],
    [/^(\s*)listen 80;$/m, `$1listen 127.0.0.1:${options.listen};`],
    [upstream, options.upstreams.map((p) => `    server 127.0.0.1:${p} max_fails=3 fail_timeout=10s;\n`).join("")],
    [
      /^http \{$/m,
      ["http {", ...["client_body", "proxy", "fastcgi", "uwsgi", "scgi"].map((t) => `  ${t}_temp_path ${options.prefix}/temp/${t};`)].join("\n"),
    ],
  ];
  let text = shipped;
  for (const [pattern, replacement] of replacements) {
    if (!pattern.test(text)) throw new Error(`docker/nginx.conf no longer matches ${pattern}`);
    text = text.replace(pattern, replacement);
  }
  return text;
}

