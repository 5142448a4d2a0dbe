<?php
// ?mb=N megabytes of a known pattern (64 KiB blocks, each starting with its
// number), echoed block by block; &flush=1 flushes after each block.
$blocks = (int)($_GET['mb'] ?? 1) * 16;
for ($i = 0; $i < $blocks; $i++) {
    echo str_pad(sprintf("%08d", $i), 65536, "x");
    if (isset($_GET['flush'])) {
        flush();
    }
}
