"""Quality: the core gate (raw -> core + quarantine), its parse SQL, the core checks and quarantine thresholds, and the table checks."""
