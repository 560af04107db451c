-- Fewer background merges for the tables the store writer inserts into several times a
-- second. A caught-up writer makes one small part per table and poll; with the default
-- merge_selector_base (5) chDB merged those small parts again and again, and its merge
-- threads took a third to a half of the writer's CPU at half load. At 10 a merge waits for
-- more parts of like size: in `xbmon bench`'s half-load phase the merge threads' CPU fell
-- from 0.18 to 0.05-0.07 core (the writer's from 0.52 to 0.36), and in a 30 s trial of 22
-- small inserts a second there were 34 active parts instead of 25 (README, "Performance").
-- Queries read FINAL or aggregate, so how many parts exist changes no result.

ALTER TABLE {database:Identifier}.transfers MODIFY SETTING merge_selector_base = 10;
ALTER TABLE {database:Identifier}.flow_windows MODIFY SETTING merge_selector_base = 10;
ALTER TABLE {database:Identifier}.findings MODIFY SETTING merge_selector_base = 10;
ALTER TABLE {database:Identifier}.deadletters MODIFY SETTING merge_selector_base = 10;
ALTER TABLE {database:Identifier}.alerts MODIFY SETTING merge_selector_base = 10;
ALTER TABLE {database:Identifier}.scores MODIFY SETTING merge_selector_base = 10;
