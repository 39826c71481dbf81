"""Deploy RinneLedger and GwpAttestations on brownie's `development` network (Anvil).

Run by test_brownie_compile.py in a subprocess of .venv-brownie's python, inside a compiled
temporary copy of the project:  python deploy_check.py <project dir> <free port>
Prints one JSON object on the last line of stdout.

brownie's development network launches `anvil` from PATH on the port in its network config
(8545 by default, and brownie attaches to whatever already listens there): the port is moved
to the free one given, so a node of another test run is never used or disturbed.
"""

import json
import sys

from brownie import accounts, network, project, web3
from brownie._config import CONFIG


def main() -> None:
    project_dir, port = sys.argv[1], int(sys.argv[2])
    proj = project.load(project_dir, name="RinneBrownieCheck")
    CONFIG.networks["development"]["cmd_settings"]["port"] = port
    network.connect("development")
    try:
        admin = accounts[0]
        ledger = proj.RinneLedger.deploy(admin, {"from": admin})
        gwp = proj.GwpAttestations.deploy(ledger, {"from": admin})
        result = {
            "network": network.show_active(),
            "client": web3.client_version,
            "chain_id": web3.eth.chain_id,
            "admin": admin.address,
            "ledger_admin": ledger.admin(),
            "ledger_code": web3.eth.get_code(ledger.address).hex(),
            "gwp_ledger": gwp.ledger(),
        }
    finally:
        network.disconnect()
    print(json.dumps(result))


if __name__ == "__main__":
    main()
