"""The risk analyst's fraud monitor: alert queue, case handling, dispositions, notifications."""
