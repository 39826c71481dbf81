"""tests/brownie belongs to the brownie environment (.venv-brownie, scripts/test-brownie.sh).

The main suite (`pytest tests` in .venv, web3 8, no brownie) must not collect these modules:
brownie cannot live beside the library's dependencies, so there they are ignored rather than
reported as skipped.

The check asks for the installed distribution, not `find_spec("brownie")`: with pytest's default
import mode tests/ is on sys.path, where this very folder passes for a `brownie` namespace package.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    version("eth-brownie")
except PackageNotFoundError:
    collect_ignore_glob = ["test_*.py", "deploy_check.py"]
