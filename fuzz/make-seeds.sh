#!/usr/bin/env bash
# Makes the seed corpora under fuzz/seeds/ with the ffmpeg CLI: tiny real
# clips (0.4 s, 64x36) in several containers, and playlists / MPDs as
# FFmpeg's muxers write them. Run from anywhere: bash fuzz/make-seeds.sh
# The hand-written seeds (files named hand-*) are kept; the rest is remade.
set -euo pipefail
cd "$(dirname "$0")"
command -v ffmpeg >/dev/null || { echo "make-seeds.sh needs the ffmpeg CLI" >&2; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
ff() { ffmpeg -nostdin -hide_banner -loglevel error -y "$@"; }
src_v=(-f lavfi -i "testsrc2=s=64x36:r=10:d=0.4")
src_a=(-f lavfi -i "sine=f=440:r=16000:d=0.4")
exact=(-map_metadata -1 -fflags +bitexact -flags:v +bitexact -flags:a +bitexact)
x264=(-c:v libx264 -preset ultrafast -g 5 -x264-params "no-info=1")

media="$work/media"
mkdir -p "$media"
ff "${src_v[@]}" "${src_a[@]}" "${exact[@]}" "${x264[@]}" -c:a aac -b:a 24k \
    -movflags +faststart "$media/h264-aac.mp4"
ff "${src_v[@]}" "${src_a[@]}" "${exact[@]}" "${x264[@]}" -c:a aac -b:a 24k \
    -movflags frag_keyframe+empty_moov+default_base_moof "$media/h264-aac-frag.mp4"
ff "${src_v[@]}" "${exact[@]}" "${x264[@]}" -metadata:s:v:0 rotate=90 \
    -metadata title="Ünïcødé ✓" "$media/h264-rotated.mov"
ff "${src_v[@]}" "${src_a[@]}" "${exact[@]}" "${x264[@]}" -vf setsar=4/3 \
    -c:a libopus -b:a 16k -metadata:s:a:0 language=fra "$media/h264-opus-sar.mkv"
ff "${src_v[@]}" "${src_a[@]}" "${exact[@]}" "${x264[@]}" -c:a mp2 -b:a 32k \
    "$media/h264-mp2.ts"
ff "${src_v[@]}" "${src_a[@]}" "${exact[@]}" "${x264[@]}" -c:a aac -b:a 24k \
    "$media/h264-aac.flv"
ff "${src_v[@]}" "${src_a[@]}" "${exact[@]}" -c:v libvpx-vp9 -deadline realtime \
    -cpu-used 8 -b:v 50k -g 5 -c:a libopus -b:a 16k "$media/vp9-opus.webm"
ff "${src_v[@]}" "${src_a[@]}" "${exact[@]}" -c:v mpeg4 -q:v 24 -c:a pcm_u8 \
    -ar 8000 "$media/mpeg4-pcm.avi"
ff "${src_a[@]}" "${exact[@]}" -c:a aac -b:a 24k "$media/audio-only.m4a"

for t in probe package_hls package_dash; do
    mkdir -p "seeds/$t"
    find "seeds/$t" -type f ! -name 'hand-*' -delete
    cp "$media"/* "seeds/$t/"
done

# Playlists and MPDs as FFmpeg's muxers write them (the segments are not
# kept: the manifest targets cannot open files anyway).
out="$work/out"
mkdir -p "$out/ts" "$out/fmp4" "$out/dash" "$out/live"
ff -i "$media/h264-aac.mp4" -c copy -f hls -hls_time 0.2 -hls_list_size 0 \
    -hls_playlist_type vod -hls_flags program_date_time+independent_segments \
    "$out/ts/ts.m3u8"
ff -i "$media/h264-aac.mp4" -c copy -f hls -hls_time 0.2 -hls_segment_type fmp4 \
    -hls_flags single_file "$out/fmp4/fmp4.m3u8"
ff -i "$media/h264-aac.mp4" -c copy -f hls -hls_time 0.2 -hls_list_size 2 \
    -hls_flags discont_start+omit_endlist "$out/live/live.m3u8"
ff -i "$media/h264-aac.mp4" -c copy -f dash -seg_duration 0.2 -use_template 1 \
    -use_timeline 1 -hls_playlist 1 "$out/dash/tmpl.mpd"
ff -i "$media/h264-aac.mp4" -c copy -f dash -seg_duration 0.2 -use_template 0 \
    -single_file 1 "$out/dash/single.mpd"

mkdir -p seeds/manifest_hls seeds/manifest_dash seeds/hls_key_tags
find seeds/manifest_hls seeds/manifest_dash seeds/hls_key_tags -type f ! -name 'hand-*' -delete
cp "$out/ts/ts.m3u8" "$out/fmp4/fmp4.m3u8" "$out/live/live.m3u8" seeds/manifest_hls/
cp "$out/dash/tmpl.mpd" seeds/manifest_dash/tmpl.mpd
cp "$out/dash/single.mpd" seeds/manifest_dash/single.mpd
cp "$out/dash/master.m3u8" seeds/manifest_hls/dash-master.m3u8
cp "$out/dash/media_0.m3u8" seeds/manifest_hls/dash-media.m3u8
for f in "$out/ts/ts.m3u8" "$out/fmp4/fmp4.m3u8" "$out/live/live.m3u8" "$out/dash/media_0.m3u8"; do
    cp "$f" "seeds/hls_key_tags/$(basename "$(dirname "$f")")-$(basename "$f")"
done

# HLS playlists whose segments, init section and key are data: URLs, so the
# hls demuxer reaches the segment demuxers from memory. FFmpeg 5.1's hls
# demuxer checks a data: URL's "extension" (after its last dot) against
# allowed_extensions: base64 decoding stops at '=', so "=.ts" ends each one.
ts64=$(head -c 2256 "$media/h264-mp2.ts" | base64 -w0)
# A variant playlist line holds at most 4095 bytes (MAX_URL_SIZE): a shorter segment.
ts64s=$(head -c 1316 "$media/h264-mp2.ts" | base64 -w0)
key64=$(printf '0123456789abcdef' | base64 -w0)
ff -i "$media/h264-aac.mp4" -c copy -f mpegts -hls_time 0.2 "$work/enc-src.ts"
head -c 1128 "$work/enc-src.ts" \
    | openssl enc -aes-128-cbc -K 30313233343536373839616263646566 -iv 00000000000000000000000000000000 \
    > "$work/enc.ts" 2>/dev/null || : > "$work/enc.ts"
enc64=$(base64 -w0 < "$work/enc.ts")
cat > seeds/manifest_hls/data-segments.m3u8 <<EOF
#EXTM3U
#EXT-X-VERSION:3
#EXT-X-TARGETDURATION:1
#EXT-X-MEDIA-SEQUENCE:0
#EXTINF:0.4,
data:video/mp2t;base64,$ts64=.ts
#EXT-X-BYTERANGE:1128@0
#EXTINF:0.2,
data:video/mp2t;base64,$ts64=.ts
#EXT-X-ENDLIST
EOF
cat > seeds/manifest_hls/data-key.m3u8 <<EOF
#EXTM3U
#EXT-X-VERSION:3
#EXT-X-TARGETDURATION:1
#EXT-X-KEY:METHOD=AES-128,URI="data:application/octet-stream;base64,$key64=.ts",IV=0x00000000000000000000000000000000
#EXTINF:0.2,
data:video/mp2t;base64,$enc64=.ts
#EXT-X-ENDLIST
EOF
cat > seeds/manifest_hls/data-master.m3u8 <<EOF
#EXTM3U
#EXT-X-INDEPENDENT-SEGMENTS
#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="aud",NAME="en",DEFAULT=YES,URI="data:application/vnd.apple.mpegurl;base64,$(printf '#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXTINF:0.4,\ndata:video/mp2t;base64,%s=.ts\n#EXT-X-ENDLIST\n' "$ts64s" | base64 -w0)=.m3u8"
#EXT-X-STREAM-INF:BANDWIDTH=200000,AVERAGE-BANDWIDTH=150000,RESOLUTION=64x36,FRAME-RATE=10.000,CODECS="avc1.42c00a,mp4a.40.2",AUDIO="aud"
data:application/vnd.apple.mpegurl;base64,$(printf '#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXTINF:0.4,\ndata:video/mp2t;base64,%s=.ts\n#EXT-X-ENDLIST\n' "$ts64s" | base64 -w0)=.m3u8
EOF
ls -l seeds/*/ | awk '{s+=$5} END {print "seeds:", s, "bytes"}'
