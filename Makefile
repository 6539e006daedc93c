# Everything a fresh Debian machine with Python 3.11 needs: `make demo`, `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
VIDEO_STAMP := $(VENV)/.video
# Debian packages: hashdeep is the digest peer in bench/, sqlite3 the floor of the messaging bench,
# chromium + chromium-driver run the browser tests (Playwright drives /usr/bin/chromium; it never
# downloads a browser of its own); dosfstools, mtools, e2fsprogs and ewf-tools build the disk images
# the evidence tests read (no mounts, no root needed for that).
# The ffmpeg development libraries, cmake and g++ build Meta's vpdq (video hashing) from source.
APT_VIDEO := libavcodec-dev libavformat-dev libavutil-dev libswscale-dev libavdevice-dev libavfilter-dev \
	cmake pkg-config g++
APT_PACKAGES := hashdeep sqlite3 chromium chromium-driver dosfstools mtools e2fsprogs ewf-tools sleuthkit ntfs-3g qemu-utils fdisk cryptsetup-bin xfsprogs libarchive13 $(APT_VIDEO)

.PHONY: demo test lint sysdeps videodeps bench clean

$(STAMP): pyproject.toml
	@$(PY) -c 'import ensurepip' 2>/dev/null || { [ "$$(id -u)" = 0 ] && apt-get update -qq && apt-get install -y -qq python3-venv; }
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	@$(MAKE) --no-print-directory videodeps  # `all` holds vpdq, built against the ffmpeg libraries
	$(BIN)/python -m pip install -q -e '.[all,test,bench]'
	touch $(STAMP)

$(VIDEO_STAMP): $(STAMP) pyproject.toml
	$(BIN)/python -m pip install -q -e '.[video]'
	touch $(VIDEO_STAMP)

# The demo hashes videos too, so it needs vpdq and the libraries it builds against (not the browser).
demo: videodeps $(STAMP) $(VIDEO_STAMP)
	$(BIN)/tessera demo --out demo-out

videodeps:
	@$(MAKE) --no-print-directory sysdeps APT_PACKAGES="$(APT_VIDEO)"

sysdeps:
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	  else echo "need Debian packages:$$missing (run as root or install them)"; exit 1; fi; fi

lint: $(STAMP)
	$(BIN)/ruff check tessera tests bench
	$(BIN)/mypy tessera

test: sysdeps $(STAMP) $(VIDEO_STAMP) lint
	$(BIN)/python -m pytest -q

bench: sysdeps $(STAMP) $(VIDEO_STAMP)
	$(BIN)/python bench/run_all.py

clean:
	rm -rf $(VENV) demo-out bench/out .pytest_cache .mypy_cache .ruff_cache
