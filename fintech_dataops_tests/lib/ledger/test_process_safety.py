"""Opening a chain leaves the process as safe as it was: web3/py-evm's imports raise the interpreter's
recursion limit process-wide (py_ecc: 100,000), after which a deeply nested JSON body parsed in any
thread of that process overflowed the C stack and killed the process (a segfault) instead of raising
RecursionError. Run in a fresh interpreter, so no earlier import hides or causes it."""

import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent("""
    import json, sys, threading
    from pathlib import Path
    before = sys.getrecursionlimit()
    from fintech_dataops.lib.ledger.chain import LocalChain
    chain = LocalChain(Path(sys.argv[1]))
    chain.close()
    assert sys.getrecursionlimit() == before, (before, sys.getrecursionlimit())
    outcome = []
    def parse():
        try:
            json.loads("[" * 100_000)
        except RecursionError:
            outcome.append("RecursionError")
    worker = threading.Thread(target=parse)
    worker.start()
    worker.join()
    print(outcome[0])
""")


def test_opening_a_chain_keeps_the_recursion_limit_and_deep_json_fails_cleanly(tmp_path):
    done = subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path / "chain")], capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, (done.returncode, done.stderr[-2000:])
    assert done.stdout.strip() == "RecursionError"
