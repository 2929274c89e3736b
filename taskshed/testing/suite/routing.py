"""Workers that serve only their own callbacks: the callback filter on claims and wake-ups."""

from __future__ import annotations

from taskshed.datastores.base import DataStore
from taskshed.testing.suite.base import HOUR, MINUTE, SECOND, T0, SuiteBase, store_test


class CallbackFilterTests(SuiteBase):
    @store_test
    async def test_acquire_takes_only_the_callbacks_asked_for(self, store: DataStore) -> None:
        await store.add_tasks(
            [self.task(f"mail{n}", T0 - n * SECOND, callback="mail") for n in range(5)]
            + [
                self.task(f"report{n}", T0 - 10 * SECOND - n * SECOND, callback="report")
                for n in range(5)
            ]
            + [self.task("other", T0 - HOUR, callback="other")]
        )
        mail = await store.acquire_tasks(
            worker_id="w", now=T0, lease_until=T0 + HOUR, limit=3, callbacks={"mail"}
        )
        assert [c.task_id for c in mail] == ["mail4", "mail3", "mail2"], (
            "acquire with callbacks={'mail'} returned " + repr([c.task_id for c in mail])
        )
        earliest = await store.acquire_tasks(
            worker_id="w", now=T0, lease_until=T0 + HOUR, limit=2, callbacks=["mail", "report"]
        )
        assert [c.task_id for c in earliest] == ["report4", "report3"], (
            "a limited claim over several callbacks must take the earliest of them all, not "
            + repr([c.task_id for c in earliest])
        )
        both = await store.acquire_tasks(
            worker_id="w", now=T0, lease_until=T0 + HOUR, limit=50, callbacks=["mail", "report"]
        )
        assert [c.task_id for c in both] == [
            "report2",
            "report1",
            "report0",
            "mail1",
            "mail0",
        ], "several callbacks must be merged in run_at order"
        assert (
            await store.acquire_tasks(
                worker_id="w", now=T0, lease_until=T0 + HOUR, limit=9, callbacks=set()
            )
            == []
        ), "an empty callback set must claim nothing"
        rest = await store.acquire_tasks(worker_id="w", now=T0, lease_until=T0 + HOUR, limit=9)
        assert [c.task_id for c in rest] == ["other"], (
            "without a filter every callback is claimable"
        )

    @store_test
    async def test_the_wakeup_counts_only_the_callbacks_asked_for(self, store: DataStore) -> None:
        await store.add_tasks(
            [
                self.task("soon", T0 + MINUTE, callback="report"),
                self.task("later", T0 + HOUR, callback="mail"),
                self.task("paused", T0, callback="mail", paused=True),
            ]
        )
        self.assert_same_instant(
            await store.fetch_next_wakeup(callbacks={"mail"}), T0 + HOUR, "mail wake-up"
        )
        self.assert_same_instant(
            await store.fetch_next_wakeup(callbacks={"mail", "report"}), T0 + MINUTE, "wake-up"
        )
        assert await store.fetch_next_wakeup(callbacks={"nothing"}) is None, (
            "no task has callback 'nothing': there must be no wake-up"
        )
        assert await store.fetch_next_wakeup(callbacks=()) is None, (
            "callbacks=() asks for no callback: there must be no wake-up"
        )
        self.assert_same_instant(await store.fetch_next_wakeup(), T0 + MINUTE, "unfiltered")
        claims = await store.acquire_tasks(
            worker_id="w", now=T0 + HOUR, lease_until=T0 + 2 * HOUR, limit=1, callbacks={"mail"}
        )
        assert [c.task_id for c in claims] == ["later"], (
            "acquire_tasks(callbacks={'mail'}) must claim only mail tasks"
        )
        self.assert_same_instant(
            await store.fetch_next_wakeup(callbacks={"mail"}), T0 + 2 * HOUR, "claimed mail wake-up"
        )

    @store_test
    async def test_many_callbacks_stay_separate(self, store: DataStore) -> None:
        names = [f"cb{n:02d}" for n in range(40)]
        await store.add_tasks(
            self.task(f"{name}-{k}", T0 - (k + n) * SECOND, callback=name)
            for n, name in enumerate(names)
            for k in range(3)
        )
        wanted = set(names[10:13])
        claims = await store.acquire_tasks(
            worker_id="w", now=T0, lease_until=T0 + HOUR, limit=100, callbacks=wanted
        )
        assert {c.task.callback for c in claims} == wanted, (
            "acquire_tasks must claim only tasks of the callbacks asked for"
        )
        assert len(claims) == 9, "every due task of the three callbacks must be claimed"
        times = [c.task.run_at for c in claims]
        assert times == sorted(times), "claims across callbacks are not in run_at order"
