from app.settings import SyncPolicy
from app.sync.worker import backoff_seconds


def test_backoff_grows_exponentially_with_jitter_and_a_cap() -> None:
    policy = SyncPolicy(backoff_base_seconds=2, backoff_cap_seconds=60)
    for attempts, ceiling in [(1, 2), (2, 4), (3, 8), (6, 60), (20, 60)]:
        samples = [backoff_seconds(attempts, policy) for _ in range(200)]
        assert all(ceiling / 2 <= s <= ceiling for s in samples), (
            attempts,
            min(samples),
            max(samples),
        )
        assert len(set(samples)) > 1, "no jitter"


def test_backoff_never_comes_sooner_than_the_tracker_asked() -> None:
    policy = SyncPolicy(backoff_base_seconds=2, backoff_cap_seconds=60)
    assert all(backoff_seconds(1, policy, retry_after=30) >= 30 for _ in range(50))
    assert all(backoff_seconds(10, policy, retry_after=300) >= 300 for _ in range(50))
