// avahi-daemon inside a test namespace. Each daemon needs its own D-Bus system bus (found via
// DBUS_SYSTEM_BUS_ADDRESS), its own config (host name, allowed interface) and its own
// /run/avahi-daemon: it hard-codes that path, so the daemon gets a private tmpfs on /run in the
// mount namespace `ip netns exec` already gives it.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Netns, NsHost } from "./netns.ts";
import { LineReader } from "./line-reader.ts";

export interface Avahi {
  /** Environment for avahi-browse / avahi-publish run in the same namespace. */
  readonly env: Record<string, string>;
  stop(): Promise<void>;
}

export async function startAvahi(lan: Netns, host: NsHost, hostName: string): Promise<Avahi> {
  const dir = mkdtempSync(join(tmpdir(), "fly-avahi-"));
  const bus = join(dir, "bus");
  writeFileSync(
    join(dir, "dbus.conf"),
    `<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-BUS Bus Configuration 1.0//EN" "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path=${bus}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/><allow own="*"/><allow send_destination="*"/><allow receive_sender="*"/>
  </policy>
</busconfig>
`,
  );
  writeFileSync(
    join(dir, "avahi-daemon.conf"),
    `[server]
host-name=${hostName}
use-ipv4=yes
use-ipv6=no
allow-interfaces=${host.iface}
enable-dbus=yes
[wide-area]
enable-wide-area=no
[publish]
publish-hinfo=no
publish-workstation=no
`,
  );
  const env = { DBUS_SYSTEM_BUS_ADDRESS: `unix:path=${bus}` };
  const dbus = lan.spawn(host.ns, [
    "dbus-daemon",
    `--config-file=${join(dir, "dbus.conf")}`,
    "--nofork",
    "--print-address",
  ]);
  await new LineReader(dbus.stdout).waitFor((l) => l.includes(bus), 5000, "dbus-daemon to listen");
  const daemon = lan.spawn(
    host.ns,
    [
      "sh",
      "-c",
      `mount -t tmpfs fly-avahi-run /run && mkdir -p /run/avahi-daemon && exec avahi-daemon -f ${join(dir, "avahi-daemon.conf")} --no-drop-root --no-chroot --no-rlimits`,
    ],
    { env },
  );
  await new LineReader(daemon.stderr).waitFor(
    (l) => l.includes("Server startup complete"),
    10_000,
    "avahi-daemon to start",
  );
  return {
    env,
    stop: async () => {
      daemon.kill("SIGTERM");
      await daemon.exited;
      dbus.kill("SIGTERM");
      await dbus.exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
