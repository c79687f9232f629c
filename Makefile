# Thin front for Meson. `make` builds build/tailwart; `make demo` and
# `make check` are the README's two commands: each installs what it needs
# from Debian first (scripts/deps.sh, only what is missing).
BUILD ?= build
ASAN ?= build-asan

.PHONY: all deps check demo bench clean format unit

all: $(BUILD)/build.ninja
	ninja -C $(BUILD)

$(BUILD)/build.ninja:
	@bash scripts/deps.sh build
	meson setup $(BUILD) --buildtype=debugoptimized

$(ASAN)/build.ninja:
	CC=clang meson setup $(ASAN) -Dfuzz=true -Db_sanitize=address,undefined -Db_lundef=false \
		--buildtype=debug

deps:
	bash scripts/deps.sh check

check:
	@bash scripts/deps.sh check
	bash tests/check.sh

demo:
	@bash scripts/deps.sh demo
	$(MAKE) all
	bash scripts/demo.sh

bench:
	@bash scripts/deps.sh bench
	$(MAKE) all
	bash bench/run

format:
	clang-format -i $$(git ls-files 'src/*.c' 'src/*.h' 'tests/*.c')

clean:
	rm -rf $(BUILD) $(ASAN)
