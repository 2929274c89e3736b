"""The datastore conformance suite: every test, gathered into one class to subclass.

Each part lives in a module named for what it checks; :class:`DataStoreSuite`
combines them. See ``docs/plugins.md`` for how a store adopts it.
"""

from taskshed.testing.suite.adding import AddTests
from taskshed.testing.suite.bad_input import BadInputTests
from taskshed.testing.suite.base import T0, DataStoreFactory, SuiteBase, store_test
from taskshed.testing.suite.claiming import ClaimTests
from taskshed.testing.suite.clock import ClockTests
from taskshed.testing.suite.failures import FailedTaskTests
from taskshed.testing.suite.fields import FieldTests
from taskshed.testing.suite.kwargs import KwargsTests
from taskshed.testing.suite.lifecycle import LifecycleTests
from taskshed.testing.suite.listing import ListingTests
from taskshed.testing.suite.malformed import MalformedRecordTests
from taskshed.testing.suite.multiprocess import ProcessTests
from taskshed.testing.suite.pausing import PauseTests
from taskshed.testing.suite.policies import PolicyTests
from taskshed.testing.suite.reading import ReadTests
from taskshed.testing.suite.registry import RegistryTests
from taskshed.testing.suite.removing import RemoveTests
from taskshed.testing.suite.routing import CallbackFilterTests
from taskshed.testing.suite.timing import TimeTests
from taskshed.testing.suite.workers import WorkerTests


class DataStoreSuite(
    LifecycleTests,
    AddTests,
    ReadTests,
    PauseTests,
    RemoveTests,
    TimeTests,
    ClaimTests,
    ClockTests,
    FieldTests,
    FailedTaskTests,
    ListingTests,
    CallbackFilterTests,
    RegistryTests,
    KwargsTests,
    BadInputTests,
    MalformedRecordTests,
    PolicyTests,
    WorkerTests,
    ProcessTests,
):
    """Every conformance test. Subclass it as ``TestMyStore`` and override ``datastore_url``.

    Capability flags (class attributes, see :class:`SuiteBase`):
    ``shared_between_instances``, ``supports_multiple_processes``,
    ``persistent``, ``time_resolution``, ``serializers``, ``process_plugins``,
    ``supports_siblings``; and override ``write_malformed_record`` and
    ``plant_inconsistent_claim`` to run the tests that plant broken records.
    """


__all__ = ["T0", "DataStoreFactory", "DataStoreSuite", "SuiteBase", "store_test"]
