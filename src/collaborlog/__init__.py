"""CollaborLog: log anomaly detection that survives software upgrades."""

from collaborlog.errors import CollaborLogError, ConfigError, DataError

__version__ = "0.1.0"

__all__ = ["CollaborLogError", "ConfigError", "DataError", "__version__"]
