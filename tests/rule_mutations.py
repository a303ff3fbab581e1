"""Break one rule at a time and check that the reliability case guarding it fails.

Run from the repository root: ``python tests/rule_mutations.py``. Each mutation edits one
source file, runs the matching case (in ``tests/integration/test_reliability.py`` unless it
names another file), and restores the file.
Not collected by pytest (it rewrites sources); its output is quoted in the README.
"""

import pathlib
import subprocess
import sys

MUTATIONS = [
    (
        "case01 backoff",
        "tui/engine/backoff.py",
        "BASE_SECONDS = 0.5",
        "BASE_SECONDS = 0.01",
        "case01",
    ),
    (
        "case02 auth stops",
        "tui/engine/policy.py",
        '        return Decision(Action.STOP, message=f"{end.reason}; check the key, then press r to retry")',
        "        return Decision(Action.RETRY, backoff.next_delay())",
        "case02_handshake",
    ),
    (
        "case03 pong is not liveness",
        "tui/engine/feeds.py",
        "        elif isinstance(event, Pong):\n            if self.pong_is_liveness:\n                self.alive(now, data=False)\n        elif isinstance(event, DecodeFailure):",
        "        elif isinstance(event, Pong):\n            self.alive(now, data=False)\n        elif isinstance(event, DecodeFailure):",
        "case03",
    ),
    (
        "case04 close timeout",
        "tui/engine/supervisor.py",
        "        try:\n            await asyncio.wait_for(\n                ws.close(1000",
        "        return\n        try:\n            await asyncio.wait_for(\n                ws.close(1000",
        "case04",
    ),
    (
        "case05 resubscribe on open",
        "tui/engine/feeds.py",
        "        if self.intent.desired:\n            await self._send(ws, essential=True)",
        "        pass",
        "case05",
    ),
    (
        "case06 budget counts",
        "tui/engine/feeds.py",
        "        engine.budget.record()\n",
        "",
        "case06",
    ),
    (
        "case07 close 1000",
        "tui/engine/supervisor.py",
        'ws.close(1000, "client closing")',
        'ws.close(1011, "client closing")',
        "case07",
    ),
    (
        "case08 in-band removal",
        "tui/engine/engine.py",
        "        removed = self.intent.drop(code, series_only=series_only)",
        "        removed: list[Subscription] = []",
        "case08",
    ),
    (
        "case09 maintenance reconnect",
        "tui/engine/policy.py",
        '    if code in (1000, 1001):\n        return SessionEnd(Outcome.RECONNECT, f"{text}, maintenance or restart")',
        '    if code in (1000, 1001):\n        return SessionEnd(Outcome.AUTH, "x")',
        "case09",
    ),
    (
        "case10 size check",
        "tui/engine/feeds.py",
        "            check_message_size(text)\n",
        "            pass\n",
        "case10_oversized",
        "tests/integration/test_reliability_limits.py",
    ),
    (
        "case11 batch only when UI ready",
        "tui/engine/engine.py",
        "        if self._ui_busy and now - self._busy_since < UI_LOST_SECONDS:",
        "        if False:",
        "case11_slow",
        "tests/integration/test_reliability_limits.py",
    ),
    (
        "case12 masking",
        "tui/secrets.py",
        "        if value in text:\n            text = text.replace(value, MASK)",
        "        pass",
        "case12",
        "tests/integration/test_reliability_limits.py",
    ),
    (
        "case13 one cleaning boundary",
        "tui/protocol/text.py",
        "    if frame_is_plain(frame):\n        return model\n    return clean_value(model)",
        "    return model",
        "every_field",
        "tests/integration/test_hostile.py",
    ),
    (
        "case13 toasts are not markup",
        "tui/ui/theming.py",
        "        markup: bool = False,",
        "        markup: bool = True,",
        "hostile_server_cannot_drive",
        "tests/integration/test_hostile.py",
    ),
    (
        "case15 signals close with 1000",
        "tui/cli/launch.py",
        "            loop.add_signal_handler(signum, on_signal, signum)",
        "                pass",
        "signal",
        "tests/integration/test_tmux_exits.py",
    ),
    (
        "case16 a crash exits non-zero",
        "tui/cli/launch.py",
        "    return app.return_code or 0",
        "    return 0",
        "crash",
        "tests/integration/test_keys_and_exits.py",
    ),
    (
        "case17 one key fetch at a time",
        "tui/engine/keys.py",
        "        async with self._lock:\n            now = self.clock()",
        "        if True:\n            now = self.clock()",
        "share_one",
        "tests/integration/test_keys_and_exits.py",
    ),
    (
        "case17 short keys kept",
        "tui/engine/keys.py",
        "        return long_lived and self.expiry - now < REFRESH_MARGIN_SECONDS",
        "        return self.expiry - now < REFRESH_MARGIN_SECONDS",
        "short_lived",
        "tests/integration/test_keys_and_exits.py",
    ),
    (
        "case19 the set fits the plan",
        "tui/engine/capacity.py",
        "        kept, left = fit_to_plan(usable, self.units, in_order=self.in_order)",
        "        kept, left = usable, []",
        "ten_live_and_two_marked",
        "tests/integration/test_plan_trap.py",
    ),
    (
        "case19 rejected never resent",
        "tui/engine/capacity.py",
        "        if sub.code in self.rejected_codes:\n            return self.rejected_codes[sub.code]",
        "        if False:\n            return None",
        "never_sent_again",
        "tests/integration/test_plan_trap.py",
    ),
    (
        "case20 crossing hysteresis",
        "tui/alerts/book.py",
        "        if (state.side > 0 and value <= level - band) or (state.side < 0 and value >= level + band):",
        "        if (state.side > 0 and value <= level) or (state.side < 0 and value >= level):",
        "oscillating",
        "tests/integration/test_alerts.py",
    ),
    (
        "case20 state saved before delivery",
        "tui/engine/alerting.py",
        "        self.book.save()  # before delivery: a restart never fires these again",
        "        pass",
        "saved_before_any_delivery",
        "tests/integration/test_alerts.py",
    ),
    (
        "case20 tmux expands nothing",
        "tui/alerts/deliver.py",
        """    return clean_text(text).replace("#", "##")""",
        """    return clean_text(text)""",
        "tmux_text",
        "tests/integration/test_alert_delivery.py",
    ),
    (
        "case22 a late heartbeat gives no latency",
        "tui/engine/supervisor.py",
        "        self.pace.heartbeat(now)\n        if self.read_late:\n            return\n",
        "        self.pace.heartbeat(now)\n",
        "paced_reads_never_make_the_latency_shown",
        "tests/integration/test_engine_frames.py",
    ),
    (
        "case22 a paused read knows it waited",
        "tui/engine/direct.py",
        "        self._late_next = _unread_bytes(transport) != 0",
        "        self._late_next = False",
        "paced_reads_never_make_the_latency_shown",
        "tests/integration/test_engine_frames.py",
    ),
    (
        "case21 fencing",
        "tui/fleet/node.py",
        "            if self.role == Role.LEADER and boot_clock() - self.renewed_sent > limit:",
        "            if False:",
        "cut_off_from_nats",
        "tests/integration/test_fleet.py",
    ),
    (
        "case21 dial only with the lease",
        "tui/fleet/node.py",
        "            except jserrors.KeyWrongLastSequenceError:\n                entry = await self._lease_entry()\n",
        "            except jserrors.KeyWrongLastSequenceError:\n                entry = await self._lease_entry()\n                self.engine.start_upstream()\n",
        "one_upstream_for_the_fleet",
        "tests/integration/test_fleet.py",
    ),
]
failed_to_fail = []
for name, path, old, new, selector, *target in MUTATIONS:
    test_file = target[0] if target else "tests/integration/test_reliability.py"
    f = pathlib.Path(path)
    original = f.read_text()
    assert old in original, name
    mutated = original.replace(old, new, 1)
    compile(mutated, path, "exec")  # a mutation must break the rule, not the file's syntax
    f.write_text(mutated)
    try:
        r = subprocess.run(
            [
                sys.executable,
                "-m",
                "pytest",
                "-q",
                "-x",
                test_file,
                "-k",
                selector,
                "-p",
                "no:cacheprovider",
            ],
            capture_output=True,
            text=True,
            timeout=300,
        )
    finally:
        f.write_text(original)
    summary = r.stdout.strip().splitlines()[-1] if r.stdout.strip() else ""
    # caught only when a selected test ran and failed: pytest's 2 (a collection error) or 5
    # (nothing matched the selector) says nothing about the rule
    caught = r.returncode == 1 and " failed" in f" {summary}"
    verdict = "FAILS as it should" if caught else "NOT CAUGHT"
    if not caught:
        failed_to_fail.append(name)
    print(f"{name:32} -> {verdict}  ({summary})", flush=True)
print("not caught:", failed_to_fail)
sys.exit(1 if failed_to_fail else 0)
