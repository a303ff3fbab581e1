"""The alert commands: add, replace, remove, pause and test, saved by whoever owns the file."""

from __future__ import annotations

import msgspec

from tui.alerts.model import AlertRule
from tui.config import (
    alert_rules_saved,
)
from tui.session.holdings import PositionCommands
from tui.session.values import (
    AddAlert,
    PauseAlert,
    RemoveAlert,
    ReplaceAlert,
    TestAlert,
)


class AlertCommands(PositionCommands):
    """The alert commands: add, replace, remove, pause and test, saved by whoever owns the file."""

    def _alert_done(self, error: str | None, success: str) -> None:
        if error:
            self.notice("error", f"Alert not changed: {error}")
        else:
            self.notice("information", success)
            if self.engine is not None:
                self.engine.request_batch()

    def _on_AddAlert(self, command: AddAlert) -> None:
        if self.engine is None:
            return
        alerts = self.engine.alerts
        rule = command.rule
        if command.fresh_id:
            rule = msgspec.structs.replace(rule, id=alerts.next_id())
        self._alert_done(alerts.add(rule), f"Alert {rule.id} added: {rule.when}")

    def _on_ReplaceAlert(self, command: ReplaceAlert) -> None:
        if self.engine is not None:
            rule = command.rule
            self._alert_done(
                self.engine.alerts.replace(rule), f"Alert {rule.id} changed: {rule.when}"
            )

    def _on_RemoveAlert(self, command: RemoveAlert) -> None:
        if self.engine is not None:
            self._alert_done(self.engine.alerts.remove(command.id), f"Alert {command.id} deleted")

    def _on_PauseAlert(self, command: PauseAlert) -> None:
        if self.engine is None:
            return
        alerts = self.engine.alerts
        rule = alerts.book.rules.get(command.id)
        if rule is None:
            self.notice("error", f"Alert not changed: there is no alert {command.id}")
            return
        word = "paused" if command.paused else "resumed"
        error = alerts.replace(msgspec.structs.replace(rule, paused=command.paused))
        self._alert_done(error, f"Alert {command.id} {word}")

    def _on_TestAlert(self, command: TestAlert) -> None:
        if self.engine is not None and self.engine.alerts.test(command.id) is None:
            self.notice("error", f"There is no alert {command.id}")

    def _save_alerts(self, rules: list[AlertRule]) -> str | None:
        """Write the alerts to the config file (a pane's own engine: ``--no-hub``)."""
        if not self.options.persist:
            return None
        return alert_rules_saved(self.options.config_path, rules)
