"""The advisor as the CLI, the chat page and the evaluation use it: model by configuration, turns recorded."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from fintech_dataops.lib.advisor.agent import AdvisorAnswer, ask, build_agent
from fintech_dataops.lib.advisor.conversations import known_pii, land_turns, new_conversation_id, turn_record
from fintech_dataops.lib.advisor.models import LLMSettings, build_model
from fintech_dataops.lib.advisor.scope import Session


@dataclass
class Conversation:
    session: Session
    conversation_id: str = field(default_factory=new_conversation_id)
    turns: int = 0
    history: list = field(default_factory=list, repr=False)


class Advisor:
    """One advisor over one data dir (one tenant's storage): no module-level state."""

    def __init__(self, data_dir: Path, settings: LLMSettings | None = None, *, model=None, record: bool = True,
                 wait_seconds: float = 10.0):
        self.data_dir = Path(data_dir)
        self.settings = settings or LLMSettings()
        self.model = model if model is not None else build_model(self.settings)
        self.mode = self.settings.mode if model is None else getattr(model, "model_name", "custom")
        self.record = record
        self.wait_seconds = wait_seconds
        self.agent = build_agent()

    def ask(self, conversation: Conversation, question: str) -> AdvisorAnswer:
        answer = ask(question, conversation.session, self.data_dir, model=self.model, mode=self.mode,
                     history=conversation.history or None, agent=self.agent, wait_seconds=self.wait_seconds)
        conversation.turns += 1
        conversation.history = answer.messages
        if self.record:
            self._record(conversation, question, answer)
        return answer

    def _record(self, conversation: Conversation, question: str, answer: AdvisorAnswer) -> None:
        from fintech_dataops.lib.warehouse import WarehouseLockTimeout, connection

        pii: tuple[str, ...] = ()
        database = self.data_dir / "warehouse.duckdb"
        if database.exists():
            try:
                with connection(database, read_only=True, wait_seconds=self.wait_seconds) as con:
                    pii = known_pii(con, conversation.session.customer_id)
            except WarehouseLockTimeout:
                pii = ()
        land_turns(self.data_dir, [turn_record(
            conversation_id=conversation.conversation_id, turn=conversation.turns,
            role=conversation.session.role, customer_id=conversation.session.customer_id,
            question=question, answer=answer.to_json(), known_pii=pii)])
