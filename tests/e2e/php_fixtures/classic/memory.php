<?php
// Holds more memory than memory_limit allows.
$chunks = [];
for ($i = 0; $i < 64; $i++) {
    $chunks[] = str_repeat(chr(65 + $i % 26), 1 << 20);
}
echo count($chunks);
