# Sourced by the test scripts: point Dawn at SwiftShader (Debian chromium's software Vulkan driver) when the
# machine has no GPU and the user set no driver, and at chromium's Vulkan loader when the system has none.
# A VK_ICD_FILENAMES the user set is left alone, so a wrong one fails the GPU tier loudly.
if [ -z "${VK_ICD_FILENAMES:-}${VK_DRIVER_FILES:-}" ] && [ ! -e /dev/nvidiactl ] && [ ! -e /dev/dri/renderD128 ] \
   && [ -f /usr/lib/chromium/vk_swiftshader_icd.json ]; then
  export VK_ICD_FILENAMES=/usr/lib/chromium/vk_swiftshader_icd.json
fi
if ! ldconfig -p 2>/dev/null | grep -q 'libvulkan.so.1 ' && [ -f /usr/lib/chromium/libvulkan.so.1 ]; then
  export LD_LIBRARY_PATH="${LD_LIBRARY_PATH:+$LD_LIBRARY_PATH:}/usr/lib/chromium"
fi
