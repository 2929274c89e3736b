"""How task kwargs become text in a datastore, and back."""

from taskshed.serializers.base import Serializer, decode_kwargs, encode_kwargs
from taskshed.serializers.json import JSONSerializer
from taskshed.serializers.rich import RichJSONSerializer

__all__ = [
    "JSONSerializer",
    "RichJSONSerializer",
    "Serializer",
    "decode_kwargs",
    "encode_kwargs",
]
