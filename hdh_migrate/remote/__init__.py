"""Remote execution over SSH, shared by the SFTP backend and the cutover hooks.

``spec`` (no SDK: imported by the engine at start-up) holds the SSH host's typed spec and
its connection settings; ``ssh`` (the only module importing paramiko, loaded on first use)
the connection code, the SFTP channel pool, the windowed read stream and ``run_command``.
Nothing here knows the plan, the engine or the storage contract: layers above pass a spec
or plain settings in (an import-linter contract).
"""
