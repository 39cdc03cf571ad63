"""The risk analyst's fraud monitor: alert queue, case handling, dispositions, notifications, the static report and the live page."""
