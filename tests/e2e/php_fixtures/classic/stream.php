<?php
// flush() sends what is there now; the rest comes a second later.
echo "first part\n";
flush();
sleep(1);
echo "second part\n";
