"""Infrastructure: settings, database, encryption, leases, logging, metrics, throttling."""
