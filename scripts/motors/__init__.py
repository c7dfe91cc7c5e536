"""Dynamixel motor bus tools for the Koch arm: check, calibrate, simulate.
Read ``check`` first (``make motors``), then ``sim`` (``make motors-sim``).

Why a package of small modules: the simulator (`sim`, `sim_motor`, `protocol`, `control_table`,
`faults`) must run without LeRobot's heavy imports and answer within the SDK's ~34 ms packet
timeout; the bus check (`check`, `scan`, `ports`, `calibration_file`, `profile`) and the
calibration wrapper (`calibrate`) run LeRobot's dynamixel-sdk in `envs/act`.
"""
