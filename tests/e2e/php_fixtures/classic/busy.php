<?php
// Burns CPU until max_execution_time stops it.
$i = 0;
while (true) {
    $i++;
}
