"""In-memory stores behind the services' ports, one module per port, for unit tests that
need no emulator.

Each fake passes the same contract tests as its DynamoDB adapter
(tests/functional/test_store_contracts.py and the contract tests beside it), so the two
cannot drift: what a service does against a fake, it does against DynamoDB.
"""

from tests.fakes.acks import RecordingAcks
from tests.fakes.boards import MemoryBoards
from tests.fakes.challenges import MemoryChallenges
from tests.fakes.chunk_jobs import MemoryChunkJobs, MemoryChunkQueue
from tests.fakes.citizens import MemoryCitizens
from tests.fakes.city import MemoryCity, _Code, _decode, _encode
from tests.fakes.dead_letters import MemoryDeadLetters
from tests.fakes.fleet import MemoryFleet, RecordingAlerts
from tests.fakes.ledger import MemoryLedger
from tests.fakes.ledger_audit import MemoryLedgerAudit
from tests.fakes.payout_accounts import FakeSecrets, MemoryPayoutAccounts
from tests.fakes.payout_runs import MemoryExports, MemoryPayoutRuns, payout_bucket
from tests.fakes.phones import MemoryPhones, RecordingSms
from tests.fakes.quarantine import MemoryQuarantine
from tests.fakes.rate_limits import MemoryRateLimiter
from tests.fakes.steps import MemorySteps
from tests.fakes.totals import MemoryTotals

__all__ = [
    "FakeSecrets",
    "MemoryBoards",
    "MemoryChallenges",
    "MemoryChunkJobs",
    "MemoryChunkQueue",
    "MemoryCitizens",
    "MemoryCity",
    "MemoryDeadLetters",
    "MemoryExports",
    "MemoryFleet",
    "MemoryLedger",
    "MemoryLedgerAudit",
    "MemoryPayoutAccounts",
    "MemoryPayoutRuns",
    "MemoryPhones",
    "MemoryQuarantine",
    "MemoryRateLimiter",
    "MemorySteps",
    "MemoryTotals",
    "RecordingAcks",
    "RecordingAlerts",
    "RecordingSms",
    "_Code",
    "_decode",
    "_encode",
    "payout_bucket",
]
