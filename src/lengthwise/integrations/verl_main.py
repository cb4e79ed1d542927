"""``python -m lengthwise.integrations.verl_main <hydra overrides>``: verl's ``main_ppo`` with our
loss and advantage estimators registered (in this process; the exported overrides register them in
every Ray worker through ``worker_process_setup_hook``). Arguments are verl's, unchanged."""

from __future__ import annotations


def main() -> None:
    from lengthwise.integrations.verl_registry import register

    register()
    from verl.trainer import main_ppo

    main_ppo.main()


if __name__ == "__main__":
    main()
