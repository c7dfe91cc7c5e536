"""LeRobot robot plugin ``replay``: plays a v3.0 dataset episode, records the actions it gets.

Importing this package registers ``--robot.type=replay`` with LeRobot's ``RobotConfig`` registry;
LeRobot's ``register_third_party_plugins`` imports it because the distribution is named
``lerobot_robot_replay``. ``make_robot_from_config`` then finds ``ReplayRobot`` next to
``ReplayRobotConfig`` (class name minus ``Config``).
"""

from .config_replay import ReplayRobotConfig
from .replay import ReplayRobot

__all__ = ["ReplayRobot", "ReplayRobotConfig"]
