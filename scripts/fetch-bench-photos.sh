#!/usr/bin/env bash
# Fetches real photographs for `npm run bench -- --photos .bench/photos` (Debian/Ubuntu).
# The benchmark's own corpora are generated; these are camera photographs that Debian ships as
# desktop wallpapers (MATE's nature set, KDE Plasma's, and Ubuntu's wallpaper contest entries as
# packaged for Lomiri), 1.3 to 20 MP, JPEG. The
# packages are downloaded and unpacked here, not installed; only the photographs are kept (the
# drawings and renders in the same packages are left out). Their licences are the packages' own
# (see usr/share/doc/*/copyright in each), so they stay out of the repository.
set -euo pipefail
dest="${1:-.bench/photos}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$dest"
(cd "$work" && apt-get download -qq mate-backgrounds plasma-workspace-wallpapers lomiri-wallpapers-16.04 lomiri-wallpapers-20.04)
for deb in "$work"/*.deb; do dpkg-deb -x "$deb" "$work/x"; done
photos=(
  backgrounds/mate/nature/Aqua.jpg
  backgrounds/mate/nature/Blinds.jpg
  backgrounds/mate/nature/Dune.jpg
  backgrounds/mate/nature/Garden.jpg
  backgrounds/mate/nature/GreenMeadow.jpg
  backgrounds/mate/nature/LadyBird.jpg
  backgrounds/mate/nature/RainDrops.jpg
  backgrounds/mate/nature/Storm.jpg
  backgrounds/mate/nature/TwoWings.jpg
  backgrounds/mate/nature/Wood.jpg
  backgrounds/mate/nature/YellowFlower.jpg
  wallpapers/BytheWater/contents/images/2560x1600.jpg
  wallpapers/ColdRipple/contents/images/2560x1600.jpg
  wallpapers/ColorfulCups/contents/images/2560x1600.jpg
  wallpapers/DarkestHour/contents/images/2560x1600.jpg
  wallpapers/EveningGlow/contents/images/2560x1600.jpg
  wallpapers/FallenLeaf/contents/images/2560x1600.jpg
  wallpapers/Grey/contents/images/2560x1600.jpg
  wallpapers/Kite/contents/images/2560x1600.jpg
  wallpapers/OneStandsOut/contents/images/2560x1600.jpg
  wallpapers/Path/contents/images/2560x1600.jpg
  wallpapers/summer_1am/contents/images/2560x1600.jpg
  backgrounds/Bridge_by_Sander_Klootwijk.jpg
  backgrounds/Dragonfly_by_Bolly.jpg
  backgrounds/Kleiber_by_Lukas_Baubkus.jpg
  backgrounds/Picture_0B_by_freespace.jpg
  backgrounds/Picture_1A_by_freespace.jpg
  backgrounds/Wine_by_Jakkub_Mede.jpg
  backgrounds/aitzgorri_by_Aitzol_Berasategi.jpg
  backgrounds/analogpattern_by_Peter_Nerlich.jpg
  backgrounds/free_by_Peter_Nerlich.jpg
  backgrounds/friends_by_Aitzol_Berasategi.jpg
  backgrounds/greentock_by_Peter_Nerlich.jpg
  backgrounds/life_by_Aitzol_Berasategi.jpg
  backgrounds/picosdeeuropa_by_Aitzol_Berasategi.jpg
  backgrounds/seeding_by_Clements_Engelhardt.jpg
  backgrounds/sunset_by_Aitzol_Berasategi.jpg
)
n=0
for p in "${photos[@]}"; do
  src="$work/x/usr/share/$p"
  [ -f "$src" ] || { echo "not in this release's packages, skipped: $p" >&2; continue; }
  # wallpapers/<Name>/contents/images/WxH.jpg -> <Name>.jpg
  name="$(echo "$p" | sed -E 's#^wallpapers/([^/]+)/.*#\1.jpg#; s#^.*/##')"
  cp "$src" "$dest/$name"
  n=$((n + 1))
done
echo "$n photographs in $dest"
