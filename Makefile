# LeRobot ops toolkit: convert, validate, train and serve LeRobot datasets and policies.
# `make` alone prints this file's table of contents. Logic lives in scripts/; targets stay short.
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DELETE_ON_ERROR:
.DEFAULT_GOAL := help
MAKEFLAGS += --warn-undefined-variables --no-builtin-rules --no-print-directory

# Site settings (data roots, caches) come from .env, the same file direnv's .envrc loads, read
# as direnv reads it (quotes, `# comments`): scripts/common/dotenv.py writes it as make assignments.
ifneq ($(wildcard .env),)
include .cache/dotenv.mk
.cache/dotenv.mk: .env scripts/common/dotenv.py
	@mkdir -p .cache && $(or $(wildcard envs/tools/.venv/bin/python),python3) -m scripts.common.dotenv .env >$@.tmp-$$$$ && mv $@.tmp-$$$$ $@
endif

# ---- defaults (override on the command line or in .env) -----------------------------------
DATA_DIR ?= $(CURDIR)/data
HF_HOME ?= $(CURDIR)/.cache/huggingface
HF_DATASETS_CACHE ?= $(HF_HOME)/datasets
HF_HUB_OFFLINE ?= 1
TORCH_HOME ?= $(CURDIR)/.cache/torch
WEIGHTS_DIR ?= $(CURDIR)/.cache/weights
PYTORCH_CUDA_ALLOC_CONF ?= expandable_segments:True
VIDEO_BACKEND ?=
export DATA_DIR HF_HOME HF_DATASETS_CACHE HF_HUB_OFFLINE TORCH_HOME WEIGHTS_DIR
export PYTORCH_CUDA_ALLOC_CONF VIDEO_BACKEND
export PYTHONPATH := $(CURDIR)

SAMPLE ?= $(DATA_DIR)/sample_koch_v21
SRC ?= $(SAMPLE)
DST ?= $(call noslash,SRC)_v30
DATASET ?= $(DST)
SAMPLE_DST = $(SAMPLE)_v30
DATA_MB ?= 100
VIDEO_MB ?= 200
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
RECIPE ?=
OUT ?=
GPUS ?= 1
STEPS ?=
HOLDOUT ?=
EVAL_EVERY ?=
ARGS ?=
DEEP ?=
REPORT ?=
BEHAVIOUR ?=
THRESHOLDS ?=
DRY_RUN ?=
FORCE ?=
IMAGE_QUANTILES ?=
IMAGES ?=
LINK ?=
FROM ?=
PYTEST_ARGS ?=
INBOX ?=
OUTBOX ?=
AT ?= 15 2 * * *
SETTLE_MIN ?=
NOTIFY ?=

TOOLS_PY := envs/tools/.venv/bin/python
ENVS := scripts/envs.sh
ANY_PY = $(or $(wildcard $(TOOLS_PY)),python3)

# `$(call require,VAR)`: stop with the exact command line that fixes a missing knob.
require = $(if $(strip $($(1))),,$(error $(1) is required: make $@ $(1)=<value>))
flag = $(if $(strip $(2)),$(1))
# Paths may hold spaces, quotes and Chinese: pass a variable's value to the shell as one word,
# `$(call q,VAR)` -> 'value'. (By name, so commas in values survive `call`.)
q = '$(subst ','\'',$($(1)))'
# The same for free text, not even make-expanded (`$(call qv,TASK)`: $(...) stays literal).
qv = '$(subst ','\'',$(value $(1)))'
# VAR's value without trailing slashes (tab completion adds one): `$(call noslash,VAR)`.
noslash = $(shell printf '%s' $(call q,$(1)) | sed -e 's:/*$$::')
# Non-empty when variables A and B hold the same string (word functions would split spaces).
same = $(if $(subst x$($(1)),,x$($(2)))$(subst x$($(2)),,x$($(1))),,1)
# Targets whose DATASET defaults to the converted sample build it on demand (3a).
DATASET_DEPS = $(if $(call same,DATASET,SAMPLE_DST),convert)

##@ Data
.PHONY: sample convert validate fix-stats demo
sample: env-tools ## write the embedded Koch-like v2.1 sample if missing (SAMPLE=dir)
	@test -f $(call q,SAMPLE)/meta/info.json || $(TOOLS_PY) -m scripts.sample.make --out $(call q,SAMPLE)

convert: env-tools $(if $(call same,SRC,SAMPLE),sample) ## v2.1 -> v3.0 offline; up to date = no-op (SRC=dir DST=dir DATA_MB VIDEO_MB JOBS FORCE=1 IMAGE_QUANTILES=1)
	$(TOOLS_PY) -m scripts.convert $(call q,SRC) --dst $(call q,DST) --data-mb $(DATA_MB) --video-mb $(VIDEO_MB) --jobs $(JOBS)$(if $(FORCE), --force)$(if $(IMAGE_QUANTILES), --image-quantiles)

validate: env-tools $(DATASET_DEPS) ## check a v2.1/v3.0 dataset (DATASET=dir RECIPE=name DEEP=1 REPORT=file.json BEHAVIOUR=off THRESHOLDS=file.yaml)
	$(TOOLS_PY) -m validators $(call q,DATASET)$(if $(RECIPE), --recipe $(call q,RECIPE))$(if $(DEEP), --deep)$(if $(REPORT), --report $(call q,REPORT))$(if $(filter off 0 no,$(BEHAVIOUR)), --no-behaviour)$(if $(THRESHOLDS), --thresholds $(call q,THRESHOLDS))

fix-stats: env-tools ## exact stats into a corrected copy (reflink, else copy) of a v3.0 dataset (DATASET=dir [DST=dir], default DATASET_fixed; IMAGES=1; LINK=1: hard links, read-only in both)
	$(TOOLS_PY) -m scripts.fix_stats $(call q,DATASET)$(if $(filter command line environment,$(origin DST)), --dst $(call q,DST))$(if $(IMAGES), --images)$(if $(LINK), --link)

# make edit: a new v3.0 dataset cut from DATASET (scripts/edit/); knobs passed as KNOB=value.
OP ?=
EPISODES ?=
SPLIT ?=
HEAD ?=
TAIL ?=
NEW_TASK ?=
FEATURE ?=
IDLE ?=
MOTION ?=
FACTOR ?=
EDIT_KNOBS = EPISODES SPLIT HEAD TAIL IDLE MOTION FACTOR TASK NEW_TASK FEATURE
.PHONY: edit
edit: env-tools ## a new v3.0 dataset from DATASET, source untouched (OP=delete|keep|split|merge|trim|trim-idle|fps|rename-task|drop-feature DATASET=dir[,dir] DST=dir EPISODES SPLIT HEAD TAIL IDLE MOTION FACTOR TASK NEW_TASK FEATURE FORCE=1)
	$(call require,OP)$(if $(filter command line environment,$(origin DST)),,$(error DST is required: make edit DST=<new folder>))
	$(TOOLS_PY) -m scripts.edit $(call q,OP) $(call q,DATASET) --dst $(call q,DST)$(foreach k,$(EDIT_KNOBS),$(if $($(k)), $(k)=$(call q,$(k))))$(if $(FORCE), --force)

demo: ## the main job on the embedded sample: convert, validate, smoke (re-runs are no-ops)
	$(MAKE) convert validate smoke

##@ Train
.PHONY: smoke train plot weights-import
smoke: env-tools $(DATASET_DEPS) ## train a few steps and check the checkpoint (DATASET RECIPE=act_cpu STEPS)
	$(TOOLS_PY) -m scripts.train.smoke --dataset $(call q,DATASET) --recipe $(or $(RECIPE),act_cpu)$(if $(STEPS), --steps $(call q,STEPS))

train: env-tools $(if $(RECIPE),$(DATASET_DEPS)) ## lerobot-train with a recipe (RECIPE=name DATASET=dir OUT GPUS HOLDOUT=0.1 EVAL_EVERY=N DRY_RUN=1 FORCE=1 ARGS; NODES=N SLURM=1: see Scale-out)
	$(call require,RECIPE)
	$(if $(SLURM),,$(if $(filter-out 1,$(NODES)),$(error NODES=$(NODES) runs on Slurm: make train ... NODES=$(NODES) SLURM=1)))
	$(TOOLS_PY) -m scripts.$(if $(SLURM),slurm.train $(SLURM_FLAGS),train) --recipe $(call q,RECIPE) --dataset $(call q,DATASET) --gpus $(GPUS)$(if $(OUT), --out $(call q,OUT))$(if $(HOLDOUT), --holdout $(call q,HOLDOUT))$(if $(EVAL_EVERY), --eval-every $(call q,EVAL_EVERY))$(if $(DRY_RUN), --dry-run)$(if $(FORCE), --force)$(if $(ARGS), -- $(ARGS))

plot: env-tools ## loss-curve PNG from a run's train.log (OUT=run dir)
	$(call require,OUT)
	$(TOOLS_PY) -m scripts.train.plot_loss $(call q,OUT)

weights-import: env-tools ## put offline weights where LeRobot looks (FROM=dir or archive)
	$(call require,FROM)
	$(TOOLS_PY) -m scripts.train.weights_import $(call q,FROM)$(if $(FORCE), --force)

##@ Evaluate
# Offline evaluation (scripts/eval/): checkpoints ranked on held-out episodes, no robot, no sim.
# CHECKPOINT, DATASET, JSON, BATCH and DEVICE are the variables defined with Train/Fit/Deploy.
# EPISODES (defined with Edit): the same episode syntax
STEP ?=
SEEDS ?=
PNG ?=
.PHONY: eval bench-eval
eval: env-tools $(DATASET_DEPS) ## rank checkpoints on held-out episodes (CHECKPOINT=a[,b] DATASET EPISODES=3,7-9|last:10%|heldout|@report.json STEP=N|all SEEDS JSON=file PNG=file BATCH DEVICE SLURM=1: array job, one task per checkpoint, merged report)
	$(call require,CHECKPOINT)
	$(TOOLS_PY) -m scripts.eval$(if $(SLURM),.slurm $(SLURM_FLAGS)) --checkpoint $(call q,CHECKPOINT) --dataset $(call q,DATASET)$(if $(EPISODES), --episodes $(call q,EPISODES))$(if $(STEP), --step $(call q,STEP))$(if $(SEEDS), --seeds $(call q,SEEDS))$(if $(JSON), --json $(call q,JSON))$(if $(PNG), --png $(call q,PNG))$(if $(BATCH), --batch $(call q,BATCH))$(if $(DEVICE), --device $(call q,DEVICE))

bench-eval: env-tools env-act $(DATASET_DEPS) ## frames/s of make eval vs a per-frame select_action loop, peak RSS, the device's compute ceiling (CHECKPOINT DATASET EPISODES BATCH BENCH_REPEAT=3 alternating pairs); never gates CI
	$(call require,CHECKPOINT)
	envs/act/.venv/bin/python -m scripts.eval.bench --checkpoint $(call q,CHECKPOINT) --dataset $(call q,DATASET)$(if $(EPISODES), --episodes $(call q,EPISODES))$(if $(BATCH), --batch $(call q,BATCH))$(if $(BENCH_REPEAT), --repeat $(call q,BENCH_REPEAT))

##@ Migrate
# Old ACT checkpoints (LeRobot 0.3.x, stats inside the model) -> 0.6.1, proven on the same frames
# in envs/legacy and envs/act (scripts/migrate/); DST appears only when every action agrees.
FRAMES ?=
CHECK ?=
.PHONY: migrate
migrate: env-act env-legacy ## pre-0.4 ACT checkpoint -> LeRobot 0.6.1, refused unless actions agree to 1e-5 (FROM=old DST=new DATASET=v3.0 dir FRAMES=16; CHECK=dir proves an existing migrated copy)
	$(call require,FROM)$(if $(CHECK),,$(call require_given,DST))
	envs/act/.venv/bin/python -m scripts.migrate.migrate $(call q,FROM) $(if $(CHECK),--check $(call q,CHECK),$(call q,DST))$(if $(filter command line environment,$(origin DATASET)), --dataset $(call q,DATASET))$(if $(FRAMES), --frames $(call q,FRAMES))

##@ Fit
.PHONY: fit fit-all fit-guide
BATCH ?=
JSON ?=
MEASURE ?=
fit: env-tools ## predict a recipe's peak GPU memory, no GPU needed (RECIPE DATASET=sample|gr2|dir BATCH JSON=1 MEASURE=1)
	$(call require,RECIPE)
	$(TOOLS_PY) -m scripts.fit $(call q,RECIPE)$(if $(filter command line environment,$(origin DATASET)), --dataset $(call q,DATASET))$(if $(BATCH), --batch $(BATCH))$(if $(JSON), --json)$(if $(MEASURE), --measure)

fit-all: env-tools ## predict every GPU recipe on the sample's and GR2's shapes, write the table in docs/fit.md (MEASURE=1 on a GPU box: real steps too)
	$(TOOLS_PY) -m scripts.fit --all --dataset sample,gr2 --readme$(if $(MEASURE), --measure)

fit-guide: env-tools ## our prediction under the hardware guide's and the users' GR2 conditions, nvidia-smi item by item; writes docs/fit.md
	$(TOOLS_PY) -m scripts.fit.guide --all --readme

##@ Deploy
# LeRobot's async inference (scripts/deploy/): the policy server on the GPU box, the robot client
# next to the robot. Loopback only unless ALLOW_REMOTE=1; profiles in recipes/robots/*.yaml.
CKPT ?=
CHECKPOINT ?= $(or $(CKPT),$(if $(strip $(OUT)),$(OUT)/checkpoints/last/pretrained_model))
HOST ?= 127.0.0.1
PORT ?= 8080
FPS ?=
DEVICE ?=
ALLOW_REMOTE ?=
ALLOW_ROOTS ?=
ROBOT ?= replay
SERVER ?= $(HOST):$(PORT)
TASK ?=
# Free text passed verbatim ($(call qv,TASK)): never exported, as make would expand it for that.
unexport TASK
ACTIONS_PER_CHUNK ?=
CHUNK_THRESHOLD ?=
STALL_S ?=
SERVER_WAIT ?=
DURATION ?=
EPISODE ?=
ROBOT_PORT ?=
CAMERAS ?=
TLS_DIR ?=
SERVER_NAMES ?= localhost 127.0.0.1
DEPLOY_DIR ?= $(CURDIR)/outputs/deploy
.PHONY: serve robot serve-check bench-serve certs tunnel
serve: env-tools ## policy server (CHECKPOINT=dir or OUT=run; HOST=127.0.0.1 PORT=8080 FPS DEVICE ALLOW_REMOTE=1 TLS_DIR=<certs>/server ALLOW_ROOTS)
	$(call require,CHECKPOINT)
	@env=$$($(TOOLS_PY) -m scripts.deploy.checkpoint env $(call q,CHECKPOINT)) && $(ENVS) build $$env && \
	  envs/$$env/.venv/bin/python -m scripts.deploy.server --checkpoint $(call q,CHECKPOINT) --host $(HOST) \
	  --port $(PORT) --log-dir $(call q,DEPLOY_DIR) $(call flag,--fps $(FPS),$(FPS)) \
	  $(call flag,--device $(DEVICE),$(DEVICE)) $(call flag,--allow-remote,$(ALLOW_REMOTE)) \
	  $(call flag,--tls-dir $(TLS_DIR),$(TLS_DIR)) $(foreach r,$(ALLOW_ROOTS),--allow-root $(r))

robot: env-act ## robot client (ROBOT=replay|koch CHECKPOINT SERVER=host:port TASK FPS ACTIONS_PER_CHUNK CHUNK_THRESHOLD STALL_S SERVER_WAIT=120 DURATION DATASET EPISODE ROBOT_PORT CAMERAS=replay TLS_DIR=<copy of certs/robot>)
	$(call require,CHECKPOINT)
	@envs/act/.venv/bin/python -m scripts.deploy.supervisor -- --robot $(ROBOT) --checkpoint $(call q,CHECKPOINT) \
	  --server $(SERVER) --log-dir $(call q,DEPLOY_DIR) --dataset $(call q,DATASET) $(if $(value TASK),--task $(call qv,TASK)) \
	  $(call flag,--fps $(FPS),$(FPS)) $(call flag,--actions-per-chunk $(ACTIONS_PER_CHUNK),$(ACTIONS_PER_CHUNK)) \
	  $(call flag,--chunk-threshold $(CHUNK_THRESHOLD),$(CHUNK_THRESHOLD)) \
	  $(call flag,--stall-s $(STALL_S),$(STALL_S)) $(call flag,--duration $(DURATION),$(DURATION)) \
	  $(call flag,--server-wait $(SERVER_WAIT),$(SERVER_WAIT)) \
	  $(call flag,--episode $(EPISODE),$(EPISODE)) $(call flag,--robot-port $(ROBOT_PORT),$(ROBOT_PORT)) \
	  $(call flag,--cameras $(CAMERAS),$(CAMERAS)) \
	  $(call flag,--tls-dir $(TLS_DIR),$(TLS_DIR))

serve-check: env-act ## ask a server's gRPC health service: SERVING or not (SERVER=host:port TLS_DIR=<certs>/robot); never disturbs a session
	envs/act/.venv/bin/python -m scripts.deploy.check --server $(SERVER) $(call flag,--tls-dir $(TLS_DIR),$(TLS_DIR))

GPU_HOST ?=
tunnel: ## on the robot PC: SSH-forward 127.0.0.1:PORT to the GPU box's loopback server (GPU_HOST=user@gpu-box PORT=8080)
	$(call require,GPU_HOST)
	@echo "tunnel: 127.0.0.1:$(PORT) here -> 127.0.0.1:$(PORT) on $(GPU_HOST); make robot SERVER=127.0.0.1:$(PORT) (Ctrl-C closes)"
	ssh -N -o ExitOnForwardFailure=yes -L 127.0.0.1:$(PORT):127.0.0.1:$(PORT) $(GPU_HOST)

certs: ## mutual-TLS certificates: TLS_DIR/server stays on the GPU box, TLS_DIR/robot goes to the robot PC, TLS_DIR/ca nowhere (TLS_DIR=dir SERVER_NAMES="gpu-box 10.0.0.5")
	$(call require,TLS_DIR)
	scripts/deploy/certs.sh $(TLS_DIR) $(SERVER_NAMES)

BENCH_S ?= 20
bench-serve: env-tools env-act ## replay loop, ours vs stock LeRobot 0.6.1 (CHECKPOINT DATASET BENCH_S=20); never gates CI
	$(call require,CHECKPOINT)
	$(TOOLS_PY) -m scripts.deploy.bench --checkpoint $(call q,CHECKPOINT) --dataset $(call q,DATASET) --seconds $(BENCH_S) --out $(call q,DEPLOY_DIR)/bench

##@ Motors
# PORT and ROBOT also name the policy server's port and the deploy profile (defaults 8080 and
# replay, above): the motor targets take them only from the command line, else ROBOT_PORT / koch.
MOTORS_ROBOT = $(if $(filter command line environment,$(origin ROBOT)),$(ROBOT),koch)
MOTORS_PORT = $(if $(filter command line,$(origin PORT)),$(PORT),$(ROBOT_PORT))
FAULTS ?=
SCAN ?=
CALIBRATED ?=
WIGGLE ?=
.PHONY: motors motors-sim calibrate
motors: env-act ## check the arm's Dynamixel bus vs its profile and calibration (ROBOT=koch PORT=/dev/ttyACM0 SCAN=1)
	envs/act/.venv/bin/python -m scripts.motors.check --robot $(MOTORS_ROBOT)$(if $(MOTORS_PORT), --port $(MOTORS_PORT))$(if $(SCAN), --scan)

calibrate: env-act ## LeRobot's interactive arm calibration, saved where make robot reads it (ROBOT=koch PORT=...)
	envs/act/.venv/bin/python -m scripts.motors.calibrate --robot $(MOTORS_ROBOT)$(if $(MOTORS_PORT), --port $(MOTORS_PORT))

motors-sim: env-act ## simulated motor bus on a pty; prints its port (ROBOT=koch FAULTS="missing=3 baud=57600" CALIBRATED=1 WIGGLE=400)
	envs/act/.venv/bin/python -m scripts.motors.sim --robot $(MOTORS_ROBOT)$(foreach f,$(FAULTS), --fault $(f))$(if $(CALIBRATED), --calibrated)$(if $(WIGGLE), --wiggle $(WIGGLE))

##@ Record
# Teleoperated recording (scripts/record, scripts/session; docs/record.md): the Koch leader arm
# moves the follower, each episode lands crash-safe in a v3.0 dataset, offline (never pushed).
# ROBOT is the follower here (default koch; replay above is the deploy default).
TELEOP ?= koch_leader
TELEOP_PORT ?=
# EPISODES (above, shared with edit and eval): make record defaults it to 1
EPISODE_S ?= 30
RESET_S ?= 10
RESUME ?=
CODEC ?= h264
REPLAY ?=
SIM_SIZE ?= 640x480
SIM_FAULTS ?=
INPLACE ?=
SALVAGE ?=
RECORD_ROBOT = $(if $(filter command line environment,$(origin ROBOT)),$(ROBOT),koch)
# DATASET has a default (the converted sample): recording and repair want it named.
require_given = $(if $(filter command line environment,$(origin $(1))),,$(error $(1) is required: make $@ $(1)=<dir>))
RECORD_ARGS = --robot $(RECORD_ROBOT) --teleop $(call q,TELEOP) --dataset $(call q,DATASET) --episodes '$(subst ','\'',$(or $(EPISODES),1))' --episode-s $(call q,EPISODE_S) --reset-s $(call q,RESET_S) --codec $(call q,CODEC)$(if $(FPS), --fps $(call q,FPS))$(if $(RESUME), --resume)
.PHONY: record record-sim repair bench-record
record: env-act ## teleoperated recording, crash-safe v3.0, offline (DATASET=new dir TASK="..." EPISODES=1 EPISODE_S=30 RESET_S=10 FPS=30 RESUME=1 ROBOT=koch TELEOP=koch_leader ROBOT_PORT TELEOP_PORT CAMERAS=replay REPLAY=dir CODEC=h264)
	$(call require_given,DATASET)$(if $(value TASK),,$(error TASK is required: make record TASK="what the operator does"))
	@envs/act/.venv/bin/python -m scripts.record $(RECORD_ARGS) --task $(call qv,TASK)$(if $(ROBOT_PORT), --robot-port $(call q,ROBOT_PORT))$(if $(TELEOP_PORT), --teleop-port $(call q,TELEOP_PORT))$(if $(CAMERAS), --cameras $(call q,CAMERAS))$(if $(REPLAY), --replay $(call q,REPLAY))

record-sim: env-act ## make record on the simulator: leader and follower on ptys, replayed cameras, no hardware (DATASET TASK EPISODES EPISODE_S RESET_S FPS RESUME=1 SIM_SIZE=640x480 SIM_FAULTS="slow=all:20")
	$(call require_given,DATASET)
	@envs/act/.venv/bin/python -m scripts.record.sim --size $(call q,SIM_SIZE)$(foreach f,$(SIM_FAULTS), --fault $(f)) -- $(RECORD_ARGS) --task $(if $(value TASK),$(call qv,TASK),'move the arm on the simulator')

BENCH_REC_EPISODES ?= 2
BENCH_REC_S ?= 5
bench-record: env-act ## ours vs stock lerobot-record on the simulator, two 640x480 replayed cameras at 30 fps: loop rate, p99 period, missed ticks, CPU, save s (BENCH_REC_EPISODES=2 BENCH_REC_S=5); never gates CI
	envs/act/.venv/bin/python -m scripts.bench.record --episodes $(call q,BENCH_REC_EPISODES) --seconds $(call q,BENCH_REC_S) --work .cache/bench-record

repair: env-tools ## after a crash: every complete episode, bit-identical, into DATASET_repaired (DATASET=dir DST=dir; INPLACE=1: the original renamed aside, kept; SALVAGE=1: the killed episode's complete frames too)
	$(call require_given,DATASET)
	$(TOOLS_PY) -m scripts.session.repair $(call q,DATASET)$(if $(filter command line environment,$(origin DST)), --dst $(call q,DST))$(if $(INPLACE), --in-place)$(if $(SALVAGE), --salvage)

# Robot evaluation (scripts/rollout; docs/rollout.md): blind, interleaved, labelled episodes per
# checkpoint through make serve, recorded crash-safe; REPORT_ONLY=1 reports a rollout dataset.
SEED ?=
REPORT_ONLY ?=
OPERATOR ?= keys
TOLERANCE ?= 0.5
.PHONY: rollout
rollout: env-tools env-act ## robot evaluation, blind A/B (CHECKPOINT=a[,b] ROBOT=koch|replay|sim SERVER=host:port EPISODES=N per checkpoint EPISODE_S RESET_S TASK DATASET=new dir SEED OPERATOR=keys|scripted TOLERANCE REPLAY ROBOT_PORT STALL_S SERVER_WAIT REPORT_ONLY=1)
	$(call require_given,DATASET)$(if $(REPORT_ONLY),,$(call require,CHECKPOINT))
	@$(TOOLS_PY) -m scripts.rollout --checkpoint $(call q,CHECKPOINT) --robot $(call q,ROBOT) --server $(call q,SERVER) --episodes $(call q,EPISODES) --episode-s $(call q,EPISODE_S) --reset-s $(call q,RESET_S) --task $(call qv,TASK) --dataset $(call q,DATASET) --operator $(call q,OPERATOR) --tolerance $(call q,TOLERANCE) --replay $(call q,REPLAY) --robot-port $(call q,ROBOT_PORT) --stall-s $(call q,STALL_S) --server-wait '$(or $(SERVER_WAIT),10)'$(if $(SEED), --seed $(call q,SEED))$(if $(REPORT_ONLY), --report-only)

##@ Ops
.PHONY: envs lock video-backend nightly cron-line cron-install cron-remove clean
envs: ## build every environment from its lock (LEROBOT_SRC=checkout for editable LeRobot)
	$(ENVS) build tools act smolvla

env-%:
	@$(ENVS) build $*

lock: ## re-resolve envs/*/uv.lock deliberately (needs the package index)
	$(ENVS) lock

video-backend: env-act ## show which video decoder LeRobot will use here, and why
	envs/act/.venv/bin/python -m scripts.common.video_backend

nightly: env-tools ## convert each new or changed v2.x dataset in INBOX into OUTBOX (flock-guarded; SETTLE_MIN=10 NOTIFY=cmd; SLURM=1 fans out as convert-many)
	$(call require,INBOX)
	$(call require,OUTBOX)
	$(if $(SLURM),,scripts/nightly/nightly.sh $(call q,INBOX) $(call q,OUTBOX)$(if $(SETTLE_MIN), --settle-minutes $(call q,SETTLE_MIN))$(if $(NOTIFY), --notify $(call q,NOTIFY)))
	$(if $(SLURM),$(MAKE) convert-many)

cron-line: env-tools ## print the crontab line for the nightly conversion (INBOX OUTBOX AT="15 2 * * *")
	$(call require,INBOX)
	$(call require,OUTBOX)
	@$(TOOLS_PY) -m scripts.nightly.cron line --inbox $(call q,INBOX) --outbox $(call q,OUTBOX) --at $(call q,AT)
	@$(if $(findstring w,$(filter-out --%,$(firstword $(MAKEFLAGS)))),echo "cron-line: make -C also printed 'Entering directory' lines; use make -s -C ... cron-line (or make cron-install)" >&2)

cron-install: env-tools ## add (or replace) this checkout's one nightly line in your crontab, keeping the rest (INBOX OUTBOX AT)
	$(call require,INBOX)
	$(call require,OUTBOX)
	@$(TOOLS_PY) -m scripts.nightly.cron install --inbox $(call q,INBOX) --outbox $(call q,OUTBOX) --at $(call q,AT)

cron-remove: env-tools ## remove this checkout's nightly line from your crontab (other lines kept)
	@$(TOOLS_PY) -m scripts.nightly.cron remove

clean: ## remove only what the toolkit generated (the sample, its conversion, its caches), listed first; keeps calibration, weights, DATA_DIR (DRY_RUN=1: list only)
	@$(ANY_PY) -m scripts.common.clean --sample $(call q,SAMPLE) --repo $(call q,CURDIR)$(if $(DRY_RUN), --dry-run)

##@ Scale-out
# Slurm (scripts/slurm/): multi-node training and conversion fan-out on the cluster SLURM_CONF
# names, else the local one of `make slurm-local` when it is up, else the system's. Try it on a
# laptop with make slurm-local (two nodes on this machine; SLURM_LOCAL_DIR SLURM_LOCAL_PORT).
SLURM ?=
NODES ?= 1
PARTITION ?=
TIME ?=
SLURM_ARGS ?=
WAIT ?=
SLURM_FLAGS = --nodes $(call q,NODES)$(if $(PARTITION), --partition $(call q,PARTITION))$(if $(TIME), --time $(call q,TIME))$(if $(SLURM_ARGS), --slurm-args=$(call q,SLURM_ARGS))$(if $(WAIT), --wait)
.PHONY: slurm-local slurm-local-down slurm-local-status convert-many
slurm-local: ## start (or keep, or repair) a two-node Slurm cluster here (apt-get install slurmctld slurmd slurm-client munge)
	@$(ANY_PY) -m scripts.slurm.local up

slurm-local-down: ## stop the local cluster: jobs, every job process, daemons, its /etc/hosts line
	@$(ANY_PY) -m scripts.slurm.local down

slurm-local-status: ## is the local cluster up (exit 0) or not (exit 1)
	@$(ANY_PY) -m scripts.slurm.local status

convert-many: env-tools ## convert every new/changed v2.x dataset in INBOX to OUTBOX once; SLURM=1: one array task each + a report job (SETTLE_MIN WAIT=1 PARTITION TIME SLURM_ARGS NOTIFY)
	$(call require,INBOX)
	$(call require,OUTBOX)
	$(TOOLS_PY) -m scripts.$(if $(SLURM),slurm.fanout,nightly.run) --inbox $(call q,INBOX) --outbox $(call q,OUTBOX)$(if $(SETTLE_MIN), --settle-minutes $(call q,SETTLE_MIN))$(if $(NOTIFY), --notify $(call q,NOTIFY))$(if $(SLURM),$(if $(PARTITION), --partition $(call q,PARTITION))$(if $(TIME), --time $(call q,TIME))$(if $(SLURM_ARGS), --slurm-args=$(call q,SLURM_ARGS))$(if $(WAIT), --wait))

##@ Dev
.PHONY: test lint bench bench-convert bench-validate bench-edit mutation fuzz
test: envs env-compat04 env-legacy ## run the test suite (builds what it needs; PYTEST_ARGS=...)
	$(TOOLS_PY) -m pytest $(PYTEST_ARGS)

lint: env-tools ## ruff, ruff format --check, shellcheck
	envs/tools/.venv/bin/ruff check .
	envs/tools/.venv/bin/ruff format --check .
	shellcheck scripts/*.sh scripts/*/*.sh .ci/run .envrc

bench: bench-convert bench-validate ## all benchmarks (side-by-side ratios; never gates CI)

bench-convert: envs ## our converter vs LeRobot's vs cp -r: time ratio and peak RSS
	$(TOOLS_PY) -m scripts.bench.convert

bench-validate: env-tools ## our validator vs lerobot-doctor on the mutation corpus
	$(TOOLS_PY) -m scripts.bench.validate

bench-edit: env-tools env-act ## make edit vs lerobot-edit-dataset: delete 10 %, split 90/10, merge two; time ratio, peak RSS, correctness
	$(TOOLS_PY) -m scripts.bench.edit

MODULES ?=
mutation: env-tools ## mutmut over the converter/validator modules, fast tests only (MODULES=scripts/convert/stats.py ...; not CI)
	$(TOOLS_PY) tests/mutation/run.py $(MODULES)

FUZZ_N ?= 20000
FUZZ_SEED ?= 22
fuzz: env-tools env-act ## hostile messages at a live server and client (FUZZ_N=20000 FUZZ_SEED=22; CI runs 1500)
	FUZZ_N=$(FUZZ_N) FUZZ_SEED=$(FUZZ_SEED) $(TOOLS_PY) -m pytest tests/deploy/test_deploy_fuzz.py -q -s $(PYTEST_ARGS)

##@ Help
.PHONY: help
help: ## this help
	@awk 'BEGIN {FS = ":.*## "} \
	  /^##@/ {printf "\n%s\n", substr($$0, 5)} \
	  /^[a-zA-Z_-]+:.*## / {printf "  make %-15s %s\n", $$1, $$2}' $(MAKEFILE_LIST)
	@echo
	@echo "Start here: make demo (the sample, end to end)   make test (the tests)"
