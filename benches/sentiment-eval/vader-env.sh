# Sourced by the benchmark scripts that compare with vaderSentiment: makes
# sure $work holds a venv with vaderSentiment 3.3.2 and its sdist's
# human-rated data (from PyPI only), and sets:
#   work  the cache folder ($EVAL_DIR, default $TMPDIR/earshot-sentiment-eval)
#   gt    the folder of the *_GroundTruth.txt files
work="${EVAL_DIR:-${TMPDIR:-/tmp}/earshot-sentiment-eval}"
mkdir -p "$work"
if [ ! -x "$work/venv/bin/python" ]; then
    python3 -m venv "$work/venv"
    "$work/venv/bin/pip" install -q vaderSentiment==3.3.2
fi
gt="$work/sdist/vaderSentiment-3.3.2/additional_resources/hutto_ICWSM_2014"
if [ ! -f "$gt/tweets_GroundTruth.txt" ]; then
    mkdir -p "$work/sdist"
    "$work/venv/bin/pip" download -q --no-deps --no-binary :all: vaderSentiment==3.3.2 -d "$work/sdist"
    tar -xzf "$work/sdist/vaderSentiment-3.3.2.tar.gz" -C "$work/sdist"
    tar -xzf "$work/sdist/vaderSentiment-3.3.2/additional_resources/hutto_ICWSM_2014.tar.gz" \
        -C "$work/sdist/vaderSentiment-3.3.2/additional_resources"
fi
